"""Command-line entry points; each `tools/<name>.py` is a two-line call into here.

Every CLI answers `--help`, most take `--dry-run`, and any user-facing problem ends as one
line `error: ...` on stderr with exit code 2 (nothing already written is touched).
"""

from __future__ import annotations

import argparse
import functools
import json
import shlex
import sys
from pathlib import Path

from sweboard.errors import EXIT_FAILED, EXIT_STOPPED, SweboardError, worst_exit


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled exactly like Ctrl-C: children and containers stopped, artifacts scrubbed."""


def _on_signal(signum, frame):
    """The first Ctrl-C or SIGTERM stops the command; later ones are ignored so that they cannot cut the
    clean-up short (children and containers stopped, attempt folders scrubbed, the manifest written).
    A Ctrl-C at a terminal reaches every batch of `run_models` and the scheduler forwards SIGTERM too."""
    import signal

    # a handler that does nothing, not SIG_IGN: a signal already on its way would surface as an
    # OSError ("ignored due to race condition") in the middle of the clean-up
    signal.signal(signal.SIGINT, _after_the_first)
    signal.signal(signal.SIGTERM, _after_the_first)
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _after_the_first(signum, frame):
    """Later Ctrl-C / SIGTERM while the command stops: nothing to do, it is already stopping."""


def _cli(func):
    @functools.wraps(func)
    def wrapper(argv: list[str] | None = None) -> int:
        import signal
        import threading

        main = threading.current_thread() is threading.main_thread()
        before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) if main else None
        if main:
            signal.signal(signal.SIGTERM, _on_signal)
            if before[0] is signal.default_int_handler:
                signal.signal(signal.SIGINT, _on_signal)
        try:
            return func(argv) or 0
        except SweboardError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:  # the disk is full, a folder is not writable: one line, never a traceback chain
            where = f"{exc.filename}: " if exc.filename else ""
            print(f"error: {where}{exc.strerror or exc}; what was written before is kept", file=sys.stderr)
            return EXIT_FAILED
        except KeyboardInterrupt as exc:
            print(f"{'terminated' if isinstance(exc, Terminated) else 'interrupted'}: finished attempts are kept; "
                  "rerun with --resume to continue", file=sys.stderr)
            return EXIT_STOPPED
        finally:
            if before is not None:  # called in-process (tests): leave the caller's handlers as they were
                signal.signal(signal.SIGINT, before[0])
                signal.signal(signal.SIGTERM, before[1])
    return wrapper


RUN_ID_RE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


def _valid_run_id(run_id: str) -> str:
    """Run ids become folder names under runs/ and predictions/: nothing that could leave them."""
    import re

    if not re.fullmatch(RUN_ID_RE, run_id or "") or ".." in run_id:
        raise SweboardError(f"--run-id {run_id!r}: expected 1-100 letters, digits, '.', '_' or '-', "
                            "starting with a letter or digit")
    return run_id


def _overrides(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SweboardError(f"--set {pair!r}: expected KEY=VALUE (a setting of config/sweagent.yaml)")
        out[key.strip()] = value.strip()
    return out


def _slice_args(p: argparse.ArgumentParser, default_file: str = "instances_i0.yaml") -> None:
    p.add_argument("--instances", type=Path, default=None,
                   help=f"instance slice file (default: config/{default_file})")
    p.add_argument("--section", default=None,
                   help="section of the slice file: 'swe-bench-lite' (default) or 'offline'")
    p.add_argument("--offline", action="store_true", help="shorthand for --section offline (bundled test task set)")
    p.add_argument("--instance-ids", nargs="+", metavar="ID", help="only these tasks of the slice")
    p.add_argument("--filter", metavar="REGEX", help="only the slice's tasks whose id matches (re.search)")
    p.add_argument("--slice", metavar="START:STOP", help="only these positions of the slice (e.g. 0:5)")


def _load_slice(args, default_file: str = "instances_i0.yaml"):
    from sweboard.instances import load_slice, select
    from sweboard.paths import config_dir

    section = args.section or ("offline" if args.offline else "swe-bench-lite")
    sl = load_slice(args.instances or config_dir() / default_file, section)
    return select(sl, getattr(args, "instance_ids", None), getattr(args, "filter", None), getattr(args, "slice", None))


@_cli
def update_dataset_lock(argv=None):
    from sweboard import dataset_lock as dl
    from sweboard.paths import config_dir

    p = argparse.ArgumentParser(prog="update_dataset_lock.py", description=(
        "Resolve a HuggingFace dataset to a commit revision, download exactly that revision and write "
        "its fingerprint (revision, UTC date, sha256 per data file, rows per split, tool versions) to a lock file."))
    p.add_argument("--repo-id", default=dl.DEFAULT_REPO_ID, help=f"HF dataset (default {dl.DEFAULT_REPO_ID})")
    p.add_argument("--revision", default=dl.KNOWN_GOOD_REVISION,
                   help=f"branch, tag or commit to pin (default {dl.KNOWN_GOOD_REVISION[:12]}…, the 5.x copy)")
    p.add_argument("--lock", type=Path, default=None, help="lock file to write (default config/dataset.lock)")
    p.add_argument("--offline", action="store_true", help="lock the bundled offline task set into config/dataset.offline.lock")
    p.add_argument("--force", action="store_true", help="replace an existing lock that pins a different revision")
    p.add_argument("--dry-run", action="store_true", help="resolve and print the lock without writing it")
    args = p.parse_args(argv)
    if args.offline:
        path = args.lock or config_dir() / "dataset.offline.lock"
        lock = dl.create_lock(path, "sweboard/offline-taskset", "bundled", source="bundled")
    else:
        path = args.lock or config_dir() / "dataset.lock"
        lock = dl.create_lock(path, args.repo_id, args.revision)
    if path.exists():
        old = dl.read_lock(path)
        if old.revision == lock.revision and old.files == lock.files:
            print(f"{path}: already pins {old.repo_id}@{old.revision} (retrieved {old.retrieved_at}); unchanged")
            return 0
        if not args.force:
            raise SweboardError(f"{path}: pins {old.repo_id}@{old.revision[:12]}, resolved {lock.repo_id}@{lock.revision[:12]}; "
                                "pass --force to update the lock deliberately")
    if args.dry_run:
        print(json.dumps(lock.to_dict(), indent=2))
        return 0
    dl.write_lock(lock)
    print(f"{path}: pinned {lock.repo_id}@{lock.revision} rows={lock.rows}")
    return 0


@_cli
def build_offline_images(argv=None):
    from sweboard.testbench import images, taskset

    p = argparse.ArgumentParser(prog="build_offline_images.py", description=(
        "Build the offline task images (debootstrap base, per-repo env, per-task image); skips what exists."))
    p.add_argument("instance_ids", nargs="*", help="offline instance ids (default: all)")
    p.add_argument("--dry-run", action="store_true", help="list the image tags and whether each exists")
    args = p.parse_args(argv)
    if args.dry_run:
        from sweboard.dockerutil import image_labels

        for row in taskset.load_rows():
            if not args.instance_ids or row["instance_id"] in args.instance_ids:
                print(f"{'present' if image_labels(row['image']) is not None else 'missing':8} {row['image']}")
        return 0
    events = images.build_all(args.instance_ids or None)
    built = [e for e in events if e.action == "built"]
    print(f"{len(built)} built, {len(events) - len(built)} cached, {sum(e.seconds for e in events):.1f}s")
    return 0


@_cli
def run_model_batch(argv=None):
    from sweboard.batch import BatchPlan, run_batch
    from sweboard.catalog import load_catalog
    from sweboard.dataset_lock import load_locked_rows, read_lock
    from sweboard.runconfig import load_runner_config
    from sweboard.runners import get_runner

    p = argparse.ArgumentParser(prog="run_model_batch.py", description=(
        "Run one model over one pinned slice: K attempts per task, each under a hard wall-clock limit, all model "
        "traffic through a metered gateway on 127.0.0.1; trajectories and records under runs/<run_id>/, "
        "predictions under predictions/<run_id>/."))
    p.add_argument("--run-id", required=True, help="the run to create or (with --resume) continue")
    p.add_argument("--model", required=True, help="model id from config/model_catalog.yaml")
    _slice_args(p)
    p.add_argument("--attempts", type=int, help="K attempts per task (default: config/sweagent.yaml's attempts)")
    p.add_argument("--all-attempts", action="store_true",
                   help="run all K attempts (unbiased pass@k) instead of stopping at the first resolved")
    p.add_argument("--runner", choices=["mini", "sweagent"], help="override config/sweagent.yaml's runner")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a setting of config/sweagent.yaml")
    p.add_argument("--resume", action="store_true", help="continue an existing run; finished attempts are skipped")
    p.add_argument("--cluster", metavar="ADDRESS", help=(
        "run attempts (and gradings) on a Ray cluster that requires a token: HOST:PORT of its head; "
        "keys, gateway and records stay here (pip install -e '.[ray]'; README: More than one machine)"))
    p.add_argument("--dry-run", action="store_true", help="print the plan; run nothing, write nothing")
    args = p.parse_args(argv)
    _valid_run_id(args.run_id)
    from sweboard import executors

    executors.use_cluster(args.cluster)
    sl = _load_slice(args)
    overrides = _overrides(args.set)
    if args.runner:
        overrides["runner"] = args.runner
    if args.attempts is not None:
        overrides["attempts"] = args.attempts
    if args.all_attempts:
        overrides["stop_after_resolved"] = "false"
    config = load_runner_config(overrides=overrides)
    model = load_catalog().get(args.model)
    if args.dry_run:
        print(f"run {args.run_id}: model {model.id} ({model.provider.name}, base URL {model.provider.base_url()}), "
              f"runner {'baseline' if model.is_baseline else config.runner}, K={config.attempts} x "
              f"{len(sl.instance_ids)} tasks ({'stop at first resolved' if config.stop_after_resolved else 'all K'}), "
              f"timeout {config.attempt_timeout_seconds:g}s each")
        if sl.dataset_lock.is_file():
            lock = read_lock(sl.dataset_lock)
            print(f"dataset {lock.repo_id}@{lock.revision[:12]} split {sl.split}: {', '.join(sl.instance_ids)}")
        else:
            print(f"dataset lock {sl.dataset_lock} does not exist yet (tools/update_dataset_lock.py writes it); "
                  f"split {sl.split}: {', '.join(sl.instance_ids)}")
        return 0
    from sweboard.manifest import read_manifest

    existing = read_manifest(args.run_id)
    if existing is not None and existing.get("status") == "finished" and args.resume:
        # a finished run is immutable: nothing to load, build, call or grade
        entry = existing["batches"].get(model.id) or {}
        print(f"run {args.run_id} is finished; {model.id}: {entry.get('status', 'no batch')} (nothing to do)")
        return 0
    runner = get_runner(config.runner)
    if model.calls_a_model and hasattr(runner, "prepare") and not args.cluster:
        runner.prepare()  # a warm agent server imports while the rows load and the images are checked
    try:
        from sweboard.credentials import provider_key

        provider_key(model)  # a missing key is found before anything slow (rows, images)
        lock, rows = load_locked_rows(sl.dataset_lock, sl.split, list(sl.instance_ids))
        if lock.source == "bundled" and not model.is_baseline:
            from sweboard.testbench import images

            built = [e for e in images.build_all(list(sl.instance_ids), log=lambda s: None) if e.action == "built"]
            for event in built:
                print(f"built image {event.tag} ({event.seconds:.1f}s)")
    except Exception as exc:  # the batch never started: say so in the run (if it exists), then report
        from sweboard.batch import record_failure

        record_failure(args.run_id, model, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        raise
    plan = BatchPlan(args.run_id, model, sl, lock, rows, config)
    entry = run_batch(plan, runner, resume=args.resume)
    print(f"{model.id}: {entry.get('status', 'done')}; predictions in {entry.get('predictions', '-')}")
    return EXIT_STOPPED if str(entry.get("status", "")).startswith("stopped") else 0


@_cli
def run_models(argv=None):
    from sweboard import scheduler
    from sweboard.catalog import load_catalog
    from sweboard.manifest import read_manifest, run_dir

    p = argparse.ArgumentParser(prog="run_models.py", description=(
        "Run several models' batches at once over one slice (tools/run_model_batch.py each, its own process), "
        "sharing one capacity: --jobs agent attempts at once across all of them, each provider's max_concurrency, "
        "evaluator_workers gradings, and no new work while the machine's CPU is above cpu_ceiling_percent. "
        "Shows one overall progress line (plain lines when not a terminal). Exit 1 if any batch failed."))
    p.add_argument("--run-id", required=True, help="the run to create or (with --resume) continue")
    p.add_argument("--model", action="append", default=[], help="model id from config/model_catalog.yaml (repeat)")
    p.add_argument("--jobs", type=int, help="agent attempts at once across all models (default config/sweagent.yaml's "
                   "jobs, 8); 1 runs the models one after another, one attempt at a time")
    _slice_args(p)
    p.add_argument("--attempts", type=int, help="K attempts per task (default: config/sweagent.yaml's attempts)")
    p.add_argument("--all-attempts", action="store_true", help="run all K attempts instead of stopping at the first resolved")
    p.add_argument("--runner", choices=["mini", "sweagent"], help="override config/sweagent.yaml's runner")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting of config/sweagent.yaml")
    p.add_argument("--resume", action="store_true", help="continue an existing run; finished attempts are skipped")
    p.add_argument("--finished", action="store_true",
                   help="only answer: exit 0 if the run is finished (nothing left to run), 1 if not")
    p.add_argument("--cluster", metavar="ADDRESS", help=(
        "run attempts (and gradings) on a Ray cluster that requires a token: HOST:PORT of its head; "
        "keys, gateway and records stay here (pip install -e '.[ray]'; README: More than one machine)"))
    p.add_argument("--dry-run", action="store_true", help="print the batch commands; run nothing")
    args = p.parse_args(argv)
    _valid_run_id(args.run_id)
    from sweboard import executors

    executors.use_cluster(args.cluster)
    if args.finished:
        manifest = read_manifest(args.run_id)
        return 0 if manifest is not None and manifest.get("status") == "finished" else 1
    if not args.model:
        raise SweboardError("--model: name at least one model (config/model_catalog.yaml)")
    if args.jobs is not None and args.jobs < 1:
        raise SweboardError(f"--jobs {args.jobs}: expected a whole number >= 1")
    from sweboard.runconfig import load_runner_config

    config = load_runner_config(overrides={**_overrides(args.set), **({"jobs": args.jobs} if args.jobs else {})})
    catalog = load_catalog()
    models = [catalog.get(m) for m in args.model]  # an unknown model is one line, before anything starts
    sl = _load_slice(args)
    batch = ["-I", str(Path(__file__).resolve().parents[2] / "tools" / "run_model_batch.py"), "--run-id", args.run_id,
             "--section", sl.section, "--instances", str(sl.path.resolve()), "--set", f"jobs={config.jobs}"]
    for item in args.set:
        batch += ["--set", item]
    if args.attempts is not None:
        batch += ["--attempts", str(args.attempts)]
    if args.all_attempts:
        batch.append("--all-attempts")
    if args.runner:
        batch += ["--runner", args.runner]
    if args.resume:
        batch.append("--resume")
    if args.cluster:
        batch += ["--cluster", args.cluster]
    batches = [scheduler.BatchProcess(m.id, m.slug, [sys.executable, *batch, "--model", m.id], instant=m.is_baseline)
               for m in models]
    if args.dry_run:
        print(f"{len(batches)} batches, {min(config.jobs, len(batches))} at once, {config.jobs} agent attempts at once "
              f"in all, CPU ceiling {config.cpu_ceiling_percent:g}%:")
        for b in batches:
            print("  " + shlex.join(b.command))
        return 0
    k = args.attempts or config.attempts
    by_id = {m.id: m for m in models}
    scheduler.run_batches(batches, config.jobs, run_dir(args.run_id), list(sl.instance_ids),
                          lambda mid: 1 if by_id[mid].is_baseline else k)
    failed = [b.model for b in batches if b.code not in (0, EXIT_STOPPED)]
    stopped = [b.model for b in batches if b.code == EXIT_STOPPED]
    for b in batches:
        took = f"{b.ended - b.started:.1f}s" if b.ended and b.started else "-"
        print(f"{b.model}: exit {b.code} in {took}")
    if failed:
        print(f"models whose batch failed: {' '.join(failed)}", file=sys.stderr)
    if stopped:
        print(f"models stopped (resumable with --resume): {' '.join(stopped)}", file=sys.stderr)
    return worst_exit(b.code for b in batches)


@_cli
def run_evaluation(argv=None):
    from sweboard import evaluation
    from sweboard.manifest import require_manifest

    p = argparse.ArgumentParser(prog="run_evaluation.py", description=(
        "Grade a run's attempts with the official SWE-bench evaluator (unmodified swebench): every recorded attempt "
        "without a verdict, one harness run (fresh evaluator run id) per attempt index; records versions, commands, "
        "exit codes, durations and per-attempt verdicts."))
    p.add_argument("--run-id", help="run to evaluate")
    p.add_argument("--model", action="append", help="model id (repeatable; default: every batch)")
    p.add_argument("--workers", type=int, help="evaluator workers (default config/sweagent.yaml, capped at 80%% of cores)")
    p.add_argument("--timeout", type=int, help="per-instance test timeout in seconds")
    p.add_argument("--gold", action="store_true", help=(
        "canary: grade the slice's gold patches (must all resolve) and empty patches (must resolve none) through "
        "the same path as model attempts; recorded as a run of kind canary; exit 1 if it fails"))
    p.add_argument("--predictions", type=Path, help=(
        "import: grade an external predictions file (all_preds.jsonl / preds.json) into --run-id as model "
        "--model-name (runner 'imported'; usage and cost unknown) on the slice given by --instances/--section"))
    p.add_argument("--model-name", help="with --predictions: the name the imported result gets on the board")
    p.add_argument("--resume", action="store_true", help="with --predictions: add to an existing run")
    _slice_args(p, default_file="instances_i1.yaml")
    p.add_argument("--cluster", metavar="ADDRESS", help=(
        "run the harness on a Ray cluster's nodes (where each attempt ran): HOST:PORT of its head, a cluster "
        "that requires a token (pip install -e '.[ray]')"))
    p.add_argument("--dry-run", action="store_true", help="print the evaluator command and the attempts; run nothing")
    args = p.parse_args(argv)
    from sweboard import executors

    executors.use_cluster(args.cluster)
    if args.predictions:
        from sweboard.importing import import_predictions, read_predictions

        if not args.run_id or not args.model_name:
            raise SweboardError("--predictions: needs --run-id and --model-name")
        _valid_run_id(args.run_id)
        from sweboard.catalog import check_model_id

        check_model_id(args.model_name, "--model-name")
        sl = _load_slice(args, default_file="instances_i1.yaml")
        if args.dry_run:
            print(f"would import {len(read_predictions(args.predictions))} predictions as {args.model_name} into run "
                  f"{args.run_id} on {len(sl.instance_ids)} tasks of {sl.path.name} [{sl.section}] and grade them")
            return 0
        entry = import_predictions(args.run_id, args.model_name, args.predictions, sl, args.resume)
        print(f"imported {args.model_name} into run {args.run_id}: batch {entry['status']}")
        return 0 if entry["status"] == "ok" else 1
    if args.gold:
        sl = _load_slice(args, default_file="instances_i1.yaml")
        if args.dry_run:
            print(f"would grade gold and empty patches of {len(sl.instance_ids)} tasks of {sl.path.name} "
                  f"[{sl.section}], split {sl.split}, in a new run of kind canary")
            return 0
        from sweboard.canary import run_canary

        if args.run_id:
            _valid_run_id(args.run_id)
        result = run_canary(sl, args.run_id)
        return 0 if result["passed"] else 1
    if not args.run_id:
        raise SweboardError("--run-id: required (or use --gold)")
    _valid_run_id(args.run_id)
    manifest = require_manifest(args.run_id)
    if manifest.get("status") == "finished":
        print(f"run {args.run_id}: finished; every attempt is graded")
        return 0
    if args.dry_run:
        for model_id in args.model or list(manifest["batches"]):
            pending = evaluation.pending_attempts(args.run_id, model_id)
            print(f"{model_id}: {len(pending)} attempt(s) to grade: "
                  + " ".join(f"{iid}#{k}" for iid, k, _, _ in pending))
            for eval_id, workdir, cmd in evaluation.planned_commands(args.run_id, model_id):
                print(f"  {eval_id}: cd {workdir} && {shlex.join(cmd)}")
        return 0
    with executors.opened() as executor:
        for model_id in args.model or list(manifest["batches"]):
            evaluation.evaluate(args.run_id, model_id, executor, args.workers, args.timeout)
    return 0


@_cli
def finish_run(argv=None):
    from sweboard.evaluation import evaluation_entry, pending_attempts
    from sweboard.manifest import require_manifest, update_manifest, utc_now

    p = argparse.ArgumentParser(prog="finish_run.py", description=(
        "Mark a run finished once every batch ran and every attempt is graded; a finished run is immutable. "
        "Refuses while a batch failed or is missing, or an evaluation failed; leaves stopped/incomplete runs open."))
    p.add_argument("--run-id", required=True)
    p.add_argument("--expect-model", action="append", default=[], metavar="ID",
                   help="a model this run must have a batch for (repeatable; drivers pass their model list)")
    p.add_argument("--dry-run", action="store_true", help="say what is missing, change nothing")
    args = p.parse_args(argv)
    _valid_run_id(args.run_id)
    m = require_manifest(args.run_id)
    if m.get("status") == "finished":
        print(f"run {args.run_id}: already finished")
        return 0
    missing = [x for x in args.expect_model if x not in m["batches"]]
    failed = {k: b["status"] for k, b in m["batches"].items() if b["status"].startswith("failed")}
    if missing or failed:
        raise SweboardError(f"run {args.run_id}: not finished: " + "; ".join(
            ([f"no batch for {missing}"] if missing else []) + [f"{k} {v}" for k, v in failed.items()])
            + " (rerun the model with --resume)")
    open_batches = {k: b["status"] for k, b in m["batches"].items()
                    if b["status"].startswith(("stopped", "incomplete"))}
    if open_batches:
        print(f"run {args.run_id}: left open for --resume (not finished): {open_batches}")
        return 0
    for model_id in m["batches"]:
        entry = evaluation_entry(args.run_id, model_id)
        if entry["failures"]:
            raise SweboardError(f"run {args.run_id}: the evaluation of {model_id} failed "
                                f"({entry['failures'][-1]['log']}); rerun tools/run_evaluation.py --run-id {args.run_id}")
        if entry["verdict_conflicts"]:
            raise SweboardError(f"run {args.run_id}: {model_id} has conflicting verdicts for "
                                f"{entry['verdict_conflicts']}; resolve them before finishing")
    ungraded = [k for k in m["batches"] if k not in m["evaluations"] or pending_attempts(args.run_id, k)]
    if ungraded:
        raise SweboardError(f"run {args.run_id}: attempts not graded yet for {ungraded}; run tools/run_evaluation.py first")
    if args.dry_run:
        print(f"run {args.run_id}: ready to finish")
        return 0

    def mark(data):
        data["status"] = "finished"
        data["finished_at"] = utc_now()
        peaks = [b.get("peak_cpu_percent") for b in data["batches"].values()]
        peaks += [e.get("peak_cpu_percent") for e in data["evaluations"].values()]
        data["peak_cpu_percent"] = max(filter(None, peaks), default=None)

    m = update_manifest(args.run_id, mark)
    print(f"run {args.run_id}: finished (peak CPU {m['peak_cpu_percent']}%)")
    return 0


@_cli
def collect_manifests(argv=None):
    from sweboard.leaderboard import MANIFEST_COLUMNS, load_manifests, manifest_rows, write_csv
    from sweboard.paths import runs_dir

    p = argparse.ArgumentParser(prog="collect_manifests.py", description="Summarize runs/*/manifest.json into runs/manifests.csv.")
    p.add_argument("--output", type=Path, default=None, help="default runs/manifests.csv")
    p.add_argument("--dry-run", action="store_true", help="print the rows instead of writing")
    args = p.parse_args(argv)
    rows = manifest_rows(load_manifests())
    if args.dry_run:
        for r in rows:
            print(r)
        return 0
    out = write_csv(args.output or runs_dir() / "manifests.csv", MANIFEST_COLUMNS, rows)
    print(f"{out}: {len(rows)} rows")
    return 0


@_cli
def generate_leaderboard(argv=None):
    from sweboard.leaderboard import (breakdown_rows, columns, leaderboard_rows, load_manifests, write_breakdowns,
                                      write_csv, write_html, write_run_board)
    from sweboard.report.columns import write_columns_json
    from sweboard.paths import runs_dir

    p = argparse.ArgumentParser(prog="generate_leaderboard.py", description=(
        "Join run manifests and evaluator verdicts into runs/leaderboard.csv (one row per run_id x model); "
        "columns per config/leaderboard_columns.yaml."))
    p.add_argument("--output", type=Path, default=None, help="default runs/leaderboard.csv")
    p.add_argument("--run-id", action="append", help="only these runs (repeatable; default all)")
    p.add_argument("--version", help="column set from config/leaderboard_columns.yaml: v0 to v4 (default: its 'default', v4)")
    p.add_argument("--all-runs", action="store_true",
                   help="the page shows unfinished runs too (default: finished runs only; the CSV always has every row)")
    p.add_argument("--dry-run", action="store_true", help="print the table instead of writing")
    args = p.parse_args(argv)
    cols = columns(args.version)
    manifests = load_manifests()
    for run_id in args.run_id or []:
        _valid_run_id(run_id)
    if args.run_id:
        known = {m["run_id"] for m in manifests}
        unknown = sorted(set(args.run_id) - known)
        if unknown:
            raise SweboardError(f"--run-id: no manifest for {unknown} under runs/")
        manifests = [m for m in manifests if m["run_id"] in args.run_id]
    rows = leaderboard_rows(manifests)
    if args.dry_run:
        print(",".join(cols))
        for r in rows:
            print(",".join(str(r.get(c, "")) for c in cols))
        return 0
    out = write_csv(args.output or runs_dir() / "leaderboard.csv", cols, rows)
    write_columns_json(out, cols, args.version)
    by_repo = breakdown_rows(manifests, "repo")  # once: for its file and for the page's heatmap
    extra = write_breakdowns(out.parent, manifests, by_repo)
    for m in manifests:
        write_run_board(m["run_id"], cols, rows, m, by_repo, args.version)
    shown = manifests if args.all_runs else [m for m in manifests if m.get("status") == "finished"]
    ids = {m["run_id"] for m in shown}
    page = write_html(out.with_suffix(".html"), cols, [r for r in rows if r["run_id"] in ids], shown, by_repo,
                      hidden=len(manifests) - len(shown))
    print(f"{out}: {len(rows)} rows (and {out.stem}.columns.json, {page.name}, {', '.join(p.name for p in extra)}; "
          "each finished run's own board in runs/<run_id>/)")
    # the summary: the newest run's rows (the CSV and the page have the others)
    newest = max(manifests, key=lambda m: (m.get("created_at") or "", m["run_id"]))["run_id"] if manifests else None
    if len(manifests) > 1:
        print(f"  rows of the newest run, {newest} ({len(manifests) - 1} other runs are in the CSV):")
    for r in [r for r in rows if r["run_id"] == newest]:
        print(f"  {r['model']:<40} {r['kind']:<15} pass@1 {r['pass@1']:<6} pass@K {r['pass@K']:<6} "
              f"resolved {r['resolved']}/{r['instances']}  {r['status']}  [{r['run_id']}]")
    return 0


@_cli
def plan_run(argv=None):
    from sweboard import planning
    from sweboard.catalog import load_catalog
    from sweboard.runconfig import load_runner_config

    p = argparse.ArgumentParser(prog="plan_run.py", description=(
        "Plan an iteration without spending anything: models x tasks x attempts, the bound on API calls and "
        "dollars from catalog prices, against what the ledger says is left of each provider's budget."))
    p.add_argument("--iteration", default="i1", help="i1 (Chutes), i2 (Chutes + OpenRouter), i3 or i4 (both, on i3's slice)")
    p.add_argument("--instances", type=Path, help="slice file (default: the iteration's; i2 uses i1's, i4 uses i3's)")
    p.add_argument("--offline", action="store_true", help="the offline slice and the scripted models (test equipment)")
    p.add_argument("--model", action="append", help="only these models (repeatable); the baseline is always added")
    p.add_argument("--attempts", type=int, default=planning.DRIVER_ATTEMPTS,
                   help=f"K (default {planning.DRIVER_ATTEMPTS}: what the run_i*.sh drivers run)")
    p.add_argument("--all-attempts", action="store_true", help="plan all K attempts instead of stopping at the first resolved")
    p.add_argument("--list-models", action="store_true", help="print the model ids, one per line, and nothing else")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a setting of config/sweagent.yaml")
    p.add_argument("--dry-run", action="store_true", help="same as the default: this tool never runs anything")
    args = p.parse_args(argv)
    from sweboard.instances import load_slice
    from sweboard.paths import config_dir

    overrides = _overrides(args.set)
    if args.attempts is not None:
        overrides["attempts"] = args.attempts
    if args.all_attempts:
        overrides["stop_after_resolved"] = "false"
    config = load_runner_config(overrides=overrides)
    models = planning.models_for(load_catalog(), args.iteration, args.offline, args.model)
    if args.list_models:
        print("\n".join(m.id for m in models))
        return 0
    sl = load_slice(args.instances or config_dir() / planning.ITERATION_SLICES[args.iteration],
                    "offline" if args.offline else "swe-bench-lite")
    plans = planning.plan(models, list(sl.instance_ids), config)
    print(f"plan for {args.iteration}{' (offline, test equipment)' if args.offline else ''}: "
          f"{len(models)} models x {len(sl.instance_ids)} tasks from {sl.path.name} [{sl.section}]")
    if sl.difficulty:
        from sweboard.taskinfo import describe

        print(describe(sl))
    print(planning.render(plans, config))
    return 0


@_cli
def compare_runs(argv=None):
    from sweboard.compare import DELTA, PASS, compare, gates

    p = argparse.ArgumentParser(prog="compare_runs.py", description=(
        "Compare two runs of the same experiment (same slice, dataset revision, K, stopping policy, runner; else "
        "refused with exit 2): per model the pass@1 change paired by task, its 95% interval and an exact paired "
        "test, then the i1/i2 exit gates as PASS/FAIL/N/A lines (exit 1 unless every gate passes)."))
    p.add_argument("run_a")
    p.add_argument("run_b")
    p.add_argument("--delta", type=float, default=DELTA,
                   help=f"reproduction: the largest pass@1 change that counts as the same (default {DELTA})")
    p.add_argument("--dry-run", action="store_true", help="same as the default: this tool only reads")
    args = p.parse_args(argv)
    _valid_run_id(args.run_a)
    _valid_run_id(args.run_b)
    if not 0 < args.delta < 1:
        raise SweboardError(f"--delta: expected a fraction between 0 and 1, got {args.delta}")
    comparisons, _, b = compare(args.run_a, args.run_b)
    print(f"{'model':44} {'kind':15} {'pass@1 A':>8} {'pass@1 B':>8}  paired by task")
    for c in comparisons:
        if c.test is None:
            print(f"{c.model:44} {c.kind:15} {'':>8} {'':>8}  not compared ({c.why_not})")
            continue
        verdict = "CHANGED" if c.moved else ("same within +/-%g" % args.delta if c.within(args.delta) else "undecided")
        print(f"{c.model:44} {c.kind:15} {c.rate_a:>8.3f} {c.rate_b:>8.3f}  {verdict}: {c.test.statement()}")
        if c.test.only_a:
            print(f"    better in {args.run_a}: {', '.join(c.test.only_a)}")
        if c.test.only_b:
            print(f"    better in {args.run_b}: {', '.join(c.test.only_b)}")
    results = gates(b, comparisons, args.delta)
    for name, state, detail in results:
        print(f"{state:<4}  {name}: {detail}")
    return 0 if all(state == PASS for _, state, _ in results) else 1


@_cli
def preflight(argv=None):
    from sweboard import preflight as pf
    from sweboard.catalog import load_catalog
    from sweboard.dataset_lock import load_locked_rows
    from sweboard.runconfig import load_runner_config

    p = argparse.ArgumentParser(prog="preflight.py", description=(
        "Prove the real path before anything is spent, on the run's own slice, split and runner: credentials, "
        "a one-token probe per model (in the ledger), task images (and SWE-agent's derived images), the evaluator "
        "canary, and the scripted solver through the runner. One line a step; stops at the first failure (exit 1). "
        "A passed preflight is recorded in runs/<run_id>/preflight.json and the run's manifest, and not repeated "
        "on --resume unless a task image changed."))
    p.add_argument("--run-id", required=True, help="the run this preflight is for")
    p.add_argument("--model", action="append", default=[], help="model id from config/model_catalog.yaml (repeat)")
    _slice_args(p)
    p.add_argument("--runner", choices=["mini", "sweagent"], help="override config/sweagent.yaml's runner")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting of config/sweagent.yaml")
    p.add_argument("--no-probe", action="store_true", help="skip the one-token request per model")
    p.add_argument("--resume", action="store_true", help="reuse a passed preflight of this run while its images hold")
    p.add_argument("--dry-run", action="store_true", help="say which steps would run; run nothing")
    args = p.parse_args(argv)
    _valid_run_id(args.run_id)
    if not args.model:
        raise SweboardError("--model: name at least one model (config/model_catalog.yaml)")
    config = load_runner_config(overrides={**_overrides(args.set), **({"runner": args.runner} if args.runner else {})})
    catalog = load_catalog()
    models = [catalog.get(m) for m in args.model]
    sl = _load_slice(args)
    if args.dry_run:  # the keys are checked even now: they cost nothing to look at
        try:
            keys = pf.credentials_step(models)
        except SweboardError as exc:
            keys = f"MISSING: {exc}"
        print(f"would run the preflight of {args.run_id} on {len(sl.instance_ids)} tasks [{sl.section}] with "
              f"runner {config.runner}: credentials ({keys}), {'no probe' if args.no_probe else 'probe'}, images, "
              "canary, solver")
        return 0
    if args.resume:
        _, rows = load_locked_rows(sl.dataset_lock, sl.split, list(sl.instance_ids))
        rec = pf.still_valid(args.run_id, rows, config.runner)
        if rec:
            print(f"preflight passed at {rec['finished_at']} with the same task images: not repeated")
            return 0
    rec = pf.run(args.run_id, sl, models, config.runner, config, probe=not args.no_probe)
    if not rec["passed"]:
        failed = rec["steps"][-1]
        print(f"preflight FAILED at {failed['name']}: nothing was spent on the models", file=sys.stderr)
        return 1
    print(f"preflight passed in {sum(s['seconds'] for s in rec['steps']):.1f}s (runs/{args.run_id}/preflight.json)")
    return 0


@_cli
def export_submission(argv=None):
    from sweboard.export import ATTEMPT_RULE, export

    p = argparse.ArgumentParser(prog="export_submission.py", description=(
        "Export one model of a finished run in the SWE-bench experiments layout (evaluation/<split>/<date>_<model>/: "
        "all_preds.jsonl, preds.json, logs/<instance>/ with the evaluator's own files, trajs/, metadata.yaml, "
        f"README.md). One attempt per task: {ATTEMPT_RULE}. Never overwrites."))
    p.add_argument("--run-id", required=True)
    p.add_argument("--model", required=True, help="the model id as in the run")
    p.add_argument("--out", type=Path, required=True, help="folder to write evaluation/<split>/... into")
    p.add_argument("--dry-run", action="store_true", help="say where it would write; write nothing")
    args = p.parse_args(argv)
    _valid_run_id(args.run_id)
    if args.dry_run:
        print(f"would export {args.model} of run {args.run_id} under {args.out}/evaluation/")
        return 0
    print(export(args.run_id, args.model, args.out))
    return 0


@_cli
def claim_run(argv=None):
    from sweboard import runclaim

    p = argparse.ArgumentParser(prog="claim_run.py", description=(
        "Hold a run for one driver (its PID) so a second driver of the same run is refused up front; with "
        "--resume, first check the run exists (a mistyped id never starts a new run). Exit 2 with one line if not."))
    p.add_argument("--run-id", required=True)
    p.add_argument("--pid", type=int, required=True, help="the driver's PID ($$)")
    p.add_argument("--resume", action="store_true", help="the run must already exist")
    p.add_argument("--dry-run", action="store_true", help="only check; claim nothing")
    args = p.parse_args(argv)
    _valid_run_id(args.run_id)
    if args.resume:
        runclaim.require_resumable(args.run_id)
    other = runclaim.holder(args.run_id)
    if args.dry_run:
        print(f"run {args.run_id}: " + (f"held by PID {other}" if other else "free"))
        return 0
    runclaim.claim(args.run_id, args.pid)
    return 0


@_cli
def interval_coverage(argv=None):
    from sweboard import coverage

    p = argparse.ArgumentParser(prog="interval_coverage.py", description=(
        "Simulate the board's 95% intervals on the project's slice shapes (8x4, 19x6, 12x3 tasks x repos; repo "
        "ICC 0 and 0.2; K=1 and K=3 all attempts; paired differences) and print the worst coverage per shape "
        "and metric (sweboard.coverage)."))
    p.add_argument("--replicates", type=int, default=coverage.REPLICATES, help="simulated slices a cell (2000)")
    p.add_argument("--dry-run", action="store_true", help="same as the default: this tool only computes")
    args = p.parse_args(argv)
    worst: dict[tuple, coverage.Cell] = {}
    for c in coverage.table(args.replicates):
        key = (c.metric, c.tasks, c.repos, c.icc)
        if key not in worst or c.coverage < worst[key].coverage:
            worst[key] = c
    print(f"{'metric':22} {'tasks x repos':>13} {'ICC':>4} {'worst coverage':>14} {'at rate':>7} {'delta':>5}")
    for (metric, tasks, repos, icc), c in sorted(worst.items()):
        print(f"{metric:22} {f'{tasks} x {repos}':>13} {icc:>4} {c.coverage:>14.3f} {c.rate:>7} {c.delta:>5}")
    print(f"lowest: {min(c.coverage for c in worst.values()):.3f} ({args.replicates} replicates a cell)")
    return 0


@_cli
def run_mutants(argv=None):
    from sweboard.benchmarks import mutation

    root = Path(__file__).resolve().parents[2]
    p = argparse.ArgumentParser(prog="run_mutants.py", description=(
        "Mutation testing of the statistics and fold code: apply each mutant of tests/mutants.yaml to a copy of "
        "src/, run the fast statistics tests, and print killed/survived per mutant and the score (exit 1 under "
        "--min-score)."))
    p.add_argument("--list", type=Path, default=root / "tests" / "mutants.yaml", help="the mutant list")
    p.add_argument("--jobs", type=int, default=2, help="mutants tested side by side (default 2)")
    p.add_argument("--min-score", type=float, default=0.9, help="fraction of mutants that must be killed (0.9)")
    p.add_argument("--dry-run", action="store_true", help="only check that every mutant still applies")
    args = p.parse_args(argv)
    tests, mutants = mutation.load(args.list)
    mutation.check(root, mutants)
    if args.dry_run:
        print(f"{len(mutants)} mutants apply; the tests would be: {' '.join(tests)}")
        return 0
    outcomes = mutation.run_all(root, tests, mutants, args.jobs)
    for o in outcomes:
        print(f"{'killed  ' if o.killed else 'SURVIVED'}  {o.mutant.file}: {o.mutant.why} -- {o.detail}")
    killed = sum(o.killed for o in outcomes)
    score = killed / len(outcomes) if outcomes else 0.0
    print(f"mutation score: {killed}/{len(outcomes)} killed ({score:.0%})")
    return 0 if score >= args.min_score else 1


@_cli
def describe_slice(argv=None):
    from sweboard.taskinfo import describe

    p = argparse.ArgumentParser(prog="describe_slice.py", description=(
        "Print each task of a slice with its difficulty, gold-patch size (files, hunks, changed lines) and "
        "FAIL_TO_PASS / PASS_TO_PASS counts from the locked rows (when cached locally), and why it was chosen."))
    _slice_args(p, default_file="instances_i3.yaml")
    p.add_argument("--dry-run", action="store_true", help="same as the default: this tool only reads")
    args = p.parse_args(argv)
    print(describe(_load_slice(args, default_file="instances_i3.yaml")))
    return 0


@_cli
def suggest_timeouts(argv=None):
    from sweboard.timeouts import render, suggestions

    p = argparse.ArgumentParser(prog="suggest_timeouts.py", description=(
        "List the tasks of a run whose attempts hit the wall-clock limit while the agent was still making "
        "progress (model calls answered in the last quarter of the limit), with the evidence path and an "
        "override for config/sweagent.yaml that cites it. The plan allows 120-180 s only with such evidence."))
    p.add_argument("run_id")
    p.add_argument("--dry-run", action="store_true", help="same as the default: this tool only reads")
    args = p.parse_args(argv)
    _valid_run_id(args.run_id)
    print(render(args.run_id, suggestions(args.run_id)))
    return 0


@_cli
def check_catalog(argv=None):
    import yaml

    from sweboard import credentials
    from sweboard.catalog import PRICES_LOCK, load_catalog
    from sweboard.catalog_check import check, render, snapshot
    from sweboard.paths import config_dir

    p = argparse.ArgumentParser(prog="check_catalog.py", description=(
        "Ask each provider's model list (GET {base_url}/models, with the operator's key) and report per catalog id: "
        "served / renamed (closest served id) / gone, with context length and current prices; with --write, save "
        "the served prices as a dated snapshot (config/model_prices.lock) that list-price cost then uses."))
    p.add_argument("--write", action="store_true", help="write config/model_prices.lock from the served prices")
    p.add_argument("--dry-run", action="store_true", help="report only (the default without --write)")
    args = p.parse_args(argv)
    catalog = load_catalog()
    keys = {name: credentials.get_key(prov.api_key_env) if prov.api_key_env else None
            for name, prov in catalog.providers.items()}
    rows = check(catalog, keys)
    print(render(rows))
    if args.write and not args.dry_run:
        path = config_dir() / PRICES_LOCK
        snap = snapshot(rows)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("# Written by tools/check_catalog.py --write: the providers' listed prices (dollars per 1K\n"
                       "# tokens), used for list-price cost instead of the catalog's estimates.\n"
                       + yaml.safe_dump(snap, sort_keys=True))
        tmp.replace(path)
        print(f"{path}: {len(snap['prices'])} prices, retrieved {snap['retrieved_at']}")
    return 0


@_cli
def reconcile_usage(argv=None):
    from sweboard import credentials
    from sweboard.reconcile import reconcile, render

    p = argparse.ArgumentParser(prog="reconcile_usage.py", description=(
        "Check a run's recorded usage against the provider: for a sample of OpenRouter calls, its generation record "
        "(GET {base_url}/generation?id=...: tokens, total cost, serving provider); Chutes calls against the ledger."))
    p.add_argument("--run-id", required=True)
    p.add_argument("--sample", type=int, default=20, help="how many OpenRouter calls to check (default 20)")
    p.add_argument("--dry-run", action="store_true", help="same as the default: this tool only reads")
    args = p.parse_args(argv)
    _valid_run_id(args.run_id)
    if args.sample < 1:
        raise SweboardError(f"--sample {args.sample}: expected a whole number >= 1")
    print(render(reconcile(args.run_id, credentials.get_key("OPENROUTER_API_KEY"), args.sample)))
    return 0
