"""Grading: the official evaluator on a run's attempts, the evaluator canary, imports of predictions made
elsewhere (`run_evaluation.py`), and finishing a run (`finish_run.py`)."""

from __future__ import annotations

import argparse
import sys
import shlex
from pathlib import Path

from sweboard.cli.command import checked, command
from sweboard.errors import SweboardError
from sweboard.request import add_arguments


@command
def run_evaluation(argv=None):
    p = argparse.ArgumentParser(prog="run_evaluation.py", description=(
        "Grade a run's attempts with the official SWE-bench evaluator (unmodified swebench): every recorded attempt "
        "without a verdict, one harness run (fresh evaluator run id) per attempt index; records versions, commands, "
        "exit codes, durations and per-attempt verdicts."))
    add_arguments(p, "run", "slice", "settings", "cluster", run_required=False)
    p.add_argument("--model", action="append", help="model id (repeatable; default: every batch)")
    p.add_argument("--workers", type=int, help="evaluator workers (default config/sweagent.yaml)")
    p.add_argument("--timeout", type=int, help="per-instance test timeout in seconds")
    p.add_argument("--gold", action="store_true", help=(
        "canary: grade the slice's gold patches (must all resolve) and empty patches (must resolve none) through "
        "the same path as model attempts; recorded as a run of kind canary; exit 1 if it fails"))
    p.add_argument("--predictions", type=Path, help=(
        "import: grade an external predictions file (all_preds.jsonl / preds.json) into --run-id as model "
        "--model-name (runner 'imported'; usage and cost unknown) on the slice given by --instances/--section"))
    p.add_argument("--model-name", help="with --predictions: the name the imported result gets on the board")
    p.add_argument("--dry-run", action="store_true", help="print the evaluator command and the attempts; run nothing")
    args = p.parse_args(argv)
    if args.predictions:
        return _import(args)
    if args.gold:
        return _canary(args)
    if not args.run_id:
        raise SweboardError("--run-id: required (or use --gold)")
    # gradings of one run may go side by side (one lock per task): no claim, only an existing run
    run = checked("run_evaluation.py", args, "run", "cluster", existing=True, writes=False)
    return _grade(run, args)


def _grade(run, args) -> int:
    from sweboard import evaluation, executors

    if run.finished:
        print(f"run {run.run_id}: finished; every attempt is graded")
        return 0
    models = args.model or list(run.manifest["batches"])
    unknown = sorted(set(models) - set(run.manifest["batches"]))
    if unknown:
        raise SweboardError(f"--model: run {run.run_id} has no batch for {unknown}; it has {sorted(run.manifest['batches'])}")
    if args.dry_run:
        for model_id in models:
            pending = evaluation.pending_attempts(run.run_id, model_id)
            print(f"{model_id}: {len(pending)} attempt(s) to grade: " + " ".join(f"{iid}#{k}" for iid, k, _, _ in pending))
            for eval_id, workdir, cmd in evaluation.planned_commands(run.run_id, model_id):
                print(f"  {eval_id}: cd {workdir} && {shlex.join(cmd)}")
        return 0
    with executors.opened() as executor:
        for model_id in models:
            evaluation.evaluate(run.run_id, model_id, executor, args.workers, args.timeout)
    return 0


def _canary(args) -> int:
    from sweboard.canary import run_canary

    run = checked("run_evaluation.py --gold", args, "slice", "cluster")
    sl = run.slice
    if args.dry_run:
        print(f"would grade gold and empty patches of {len(sl.instance_ids)} tasks of {sl.path.name} "
              f"[{sl.section}], split {sl.split}, in a new run of kind canary")
        return 0
    return 0 if run_canary(sl, args.run_id)["passed"] else 1


def refuse_test_equipment_name(name: str) -> None:
    """An imported file never becomes test equipment's result, nor test equipment a model's: a name of
    the scripted provider's (or the baseline's) is refused."""
    from sweboard.catalog import load_catalog

    catalog = load_catalog()
    known = catalog.models.get(name)
    if name.startswith("scripted/") or (known is not None and (known.test_equipment or known.is_baseline)):
        raise SweboardError(f"--model-name: {name!r} names test equipment or the baseline; an imported file is a "
                            "model's result: give it the model's own name")


def _default_slice_from(args, ids: set[str]) -> None:
    """No slice given: the one the predictions' ids fit (said on stderr), else the default as before."""
    from sweboard.importing import infer_slice
    from sweboard.paths import config_dir

    if args.instances or args.section or args.offline or args.instance_ids or args.filter or args.slice:
        return
    found = infer_slice(ids, config_dir())
    if found:
        args.instances, args.section = found
        print(f"slice: {found[0].name} [{found[1]}] (the one the predictions' tasks fit)", file=sys.stderr)


def _import(args) -> int:
    from sweboard.catalog import check_model_id
    from sweboard.importing import check_against_slice, import_predictions, read_predictions

    if not args.run_id or not args.model_name:
        raise SweboardError("--predictions: needs --run-id and --model-name")
    check_model_id(args.model_name, "--model-name")
    refuse_test_equipment_name(args.model_name)
    predictions = read_predictions(args.predictions)
    _default_slice_from(args, set(predictions))
    run = checked("run_evaluation.py --predictions", args, "run", "slice", "settings", "cluster")
    patches = check_against_slice(predictions, run.slice, args.predictions)
    if args.dry_run:
        print(f"would import {len(patches)} predictions as {args.model_name} into run {run.run_id} on "
              f"{len(run.slice.instance_ids)} tasks of {run.slice.path.name} [{run.slice.section}] and grade them")
        return 0
    from sweboard.request import claim

    claim(run)
    entry = import_predictions(run.run_id, args.model_name, args.predictions, run.slice, run.request.resume)
    print(f"imported {args.model_name} into run {run.run_id}: batch {entry['status']}")
    print(f"next: tools/finish_run.py --run-id {run.run_id} && tools/collect_manifests.py && "
          f"tools/generate_leaderboard.py --rows-of {run.run_id}  (the run stays open until it is finished)")
    return 0 if entry["status"] == "ok" else 1


@command
def finish_run(argv=None):
    from sweboard.finish import finish

    p = argparse.ArgumentParser(prog="finish_run.py", description=(
        "Mark a run finished once every batch ran and every attempt is graded; a finished run is immutable. "
        "Refuses while a batch failed or is missing, or an evaluation failed; leaves stopped/incomplete runs open."))
    add_arguments(p, "run", resumable=False)
    p.add_argument("--expect-model", action="append", default=[], metavar="ID",
                   help="a model this run must have a batch for (repeatable; drivers pass their model list)")
    p.add_argument("--dry-run", action="store_true", help="say what is missing, change nothing")
    args = p.parse_args(argv)
    run = checked("finish_run.py", args, "run", existing=True)
    finish(run.run_id, args.expect_model, dry_run=args.dry_run)
    return 0
