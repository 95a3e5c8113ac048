"""Running models: one model's batch (`run_model_batch.py`), several at once (`run_models.py`), and
the claim a driver holds on its run (`claim_run.py`)."""

from __future__ import annotations

import argparse

from sweboard.cli.command import checked, command
from sweboard.errors import SweboardError
from sweboard.request import add_arguments

BATCH_PARTS = ("run", "slice", "model", "settings", "cluster")
MODELS_PARTS = ("run", "slice", "models", "settings", "jobs", "cluster")


@command
def run_model_batch(argv=None):
    from sweboard import launch

    p = argparse.ArgumentParser(prog="run_model_batch.py", description=(
        "Run one model over one pinned slice: K attempts per task, each under a hard wall-clock limit, all model "
        "traffic through a metered gateway on 127.0.0.1; trajectories and records under runs/<run_id>/, "
        "predictions under predictions/<run_id>/."))
    add_arguments(p, *BATCH_PARTS)
    p.add_argument("--dry-run", action="store_true", help="print the plan; run nothing, write nothing")
    args = p.parse_args(argv)
    run = checked("run_model_batch.py", args, *BATCH_PARTS, calls_models=True)
    if args.dry_run:
        print("\n".join(launch.describe_batch(run)))
        return 0
    from sweboard.request import claim

    claim(run)
    return launch.run_one_batch(run)


@command
def run_models(argv=None):
    from sweboard import launch

    p = argparse.ArgumentParser(prog="run_models.py", description=(
        "Run several models' batches at once over one slice (tools/run_model_batch.py each, its own process), "
        "sharing one capacity: --jobs agent attempts at once across all of them, each provider's max_concurrency, "
        "evaluator_workers gradings, and no new work while the machine's CPU is above cpu_ceiling_percent. "
        "Shows one overall progress line (plain lines when not a terminal). Exit 1 if any batch failed."))
    add_arguments(p, *MODELS_PARTS)
    p.add_argument("--finished", action="store_true",
                   help="only answer: exit 0 if the run is finished (nothing left to run), 1 if not")
    p.add_argument("--dry-run", action="store_true", help="print the batch commands; run nothing")
    args = p.parse_args(argv)
    if args.finished:
        from sweboard.manifest import read_manifest
        from sweboard.request import check_run_id

        manifest = read_manifest(check_run_id(args.run_id))
        return 0 if manifest is not None and manifest.get("status") == "finished" else 1
    if not args.model:
        raise SweboardError("--model: name at least one model (config/model_catalog.yaml)")
    run = checked("run_models.py", args, *MODELS_PARTS, calls_models=True)
    if args.dry_run:
        print("\n".join(launch.plan_models(run)))
        return 0
    from sweboard.request import claim

    claim(run)
    return launch.run_models(run)


@command
def claim_run(argv=None):
    from sweboard import runclaim
    from sweboard.request import RunRequest, validate

    p = argparse.ArgumentParser(prog="claim_run.py", description=(
        "Hold a run for one driver (its PID) so a second driver of the same run is refused up front; with "
        "--resume, the run must have been started (a mistyped id never starts a new run). Exit 2 with one line "
        "if not."))
    p.add_argument("--run-id", required=True)
    p.add_argument("--pid", type=int, required=True, help="the driver's PID ($$)")
    p.add_argument("--resume", action="store_true", help="the run must already exist")
    p.add_argument("--dry-run", action="store_true", help="only check; claim nothing")
    args = p.parse_args(argv)
    run = validate(RunRequest("claim_run.py", ("run",), run_id=args.run_id, resume=args.resume, dry_run=args.dry_run))
    if args.dry_run:
        holder = runclaim.holder(args.run_id)
        print(f"run {args.run_id}: " + (f"held by PID {holder}" if holder else "free"))
        return 0
    if not run.in_session:
        runclaim.claim(args.run_id, args.pid)
    return 0
