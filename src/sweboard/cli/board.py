"""The board: folding runs into the leaderboard and its page, comparing runs, exporting a submission,
planning an iteration before anything is spent."""

from __future__ import annotations

import argparse
from pathlib import Path

from sweboard.cli.command import checked, command
from sweboard.errors import SweboardError
from sweboard.request import RunRequest, add_arguments, check_run_id, validate


@command
def collect_manifests(argv=None):
    from sweboard.fold import collect
    from sweboard.leaderboard import load_manifests, manifest_rows

    p = argparse.ArgumentParser(prog="collect_manifests.py", description="Summarize runs/*/manifest.json into runs/manifests.csv.")
    p.add_argument("--output", type=Path, default=None, help="default runs/manifests.csv")
    p.add_argument("--dry-run", action="store_true", help="print the rows instead of writing")
    args = p.parse_args(argv)
    if args.dry_run:
        for r in manifest_rows(load_manifests()):
            print(r)
        return 0
    out, n = collect(args.output)
    print(f"{out}: {n} rows")
    return 0


@command
def generate_leaderboard(argv=None):
    from sweboard.fold import fold, newest_run, row_lines
    from sweboard.leaderboard import columns, leaderboard_rows, load_manifests

    p = argparse.ArgumentParser(prog="generate_leaderboard.py", description=(
        "Join run manifests and evaluator verdicts into runs/leaderboard.csv (one row per run_id x model); "
        "columns per config/leaderboard_columns.yaml."))
    p.add_argument("--output", type=Path, default=None, help="default runs/leaderboard.csv")
    p.add_argument("--run-id", action="append", help="only these runs (repeatable; default all)")
    p.add_argument("--rows-of", metavar="RUN_ID", help="print this run's rows at the end (default: the newest run's)")
    p.add_argument("--version", help="column set from config/leaderboard_columns.yaml: v0 to v4 (default: its 'default', v4)")
    p.add_argument("--all-runs", action="store_true",
                   help="the page shows unfinished runs too (default: finished runs only; the CSV always has every row)")
    p.add_argument("--dry-run", action="store_true", help="print the table instead of writing")
    args = p.parse_args(argv)
    for run_id in [*(args.run_id or []), *([args.rows_of] if args.rows_of else [])]:
        check_run_id(run_id)
    cols = columns(args.version)
    if args.dry_run:
        rows = leaderboard_rows([m for m in load_manifests() if not args.run_id or m["run_id"] in args.run_id])
        print(",".join(cols))
        for r in rows:
            print(",".join(str(r.get(c, "")) for c in cols))
        return 0
    rows, written = fold(args.version, args.run_id, args.all_runs, args.output)
    print(f"{written[0]}: {len(rows)} rows (and {', '.join(written[1:])}; each finished run's own board in "
          "runs/<run_id>/)")
    focus = args.rows_of or newest_run(load_manifests())
    lines = row_lines(rows, focus) if focus else []
    if lines:
        print(f"  rows of run {focus}{'' if args.rows_of else ' (the newest)'}:")
        print("\n".join(lines))
    return 0


@command
def compare_runs(argv=None):
    from sweboard.compare import DELTA, PASS, compare, gates, render, reproduction_gate

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
    for run_id in (args.run_a, args.run_b):
        validate(RunRequest("compare_runs.py", ("run",), run_id=run_id, writes=False, existing=True))
    if not 0 < args.delta < 1:
        raise SweboardError(f"--delta: expected a fraction between 0 and 1, got {args.delta}")
    comparisons, a, b = compare(args.run_a, args.run_b)
    results = gates(b, comparisons, args.delta, first=a)
    print("\n".join(render(args.run_a, args.run_b, comparisons, [*results, reproduction_gate(comparisons, args.delta)],
                            args.delta)))
    return 0 if all(state == PASS for _, state, _ in results) else 1


@command
def export_submission(argv=None):
    from sweboard.export import ATTEMPT_RULE, export

    p = argparse.ArgumentParser(prog="export_submission.py", description=(
        "Export one model of a finished run in the SWE-bench experiments layout (evaluation/<benchmark>/"
        "<date>_<model>/: all_preds.jsonl, preds.json, logs/<instance>/ with the evaluator's own files, trajs/, "
        f"metadata.yaml, README.md). One attempt per task: {ATTEMPT_RULE}. Never overwrites."))
    add_arguments(p, "run", resumable=False)
    p.add_argument("--model", required=True, help="the model id as in the run")
    p.add_argument("--out", type=Path, required=True, help="folder to write evaluation/<benchmark>/... into")
    p.add_argument("--dry-run", action="store_true", help="say where it would write; write nothing")
    args = p.parse_args(argv)
    run = checked("export_submission.py", args, "run", writes=False, existing=True)
    if args.dry_run:
        print(f"would export {args.model} of run {run.run_id} under {args.out}/evaluation/")
        return 0
    folder = export(run.run_id, args.model, args.out)
    print((folder / "README.md").read_text().rstrip().splitlines()[-1])  # Resolved N instances (...)
    print(f"fill before submitting: the TODO fields of {folder / 'metadata.yaml'} (info.site, info.report, "
          "info.authors, tags.org)")
    print(folder)  # last: where it is
    return 0


@command
def plan_run(argv=None):
    from sweboard import planning
    from sweboard.catalog import load_catalog
    from sweboard.drive import DriverOptions, plan, request_for
    from sweboard.request import from_args

    p = argparse.ArgumentParser(prog="plan_run.py", description=(
        "Plan an iteration without spending anything: models x tasks x attempts, the bound on API calls and "
        "dollars from catalog prices, against what the ledger says is left of each provider's budget, and what "
        "the slice can show statistically."))
    p.add_argument("--iteration", default="i1", choices=sorted(planning.ITERATION_PROVIDERS),
                   help="i0, i1 (Chutes), i2 (Chutes + OpenRouter), i3 or i4 (both, on i3's slice)")
    add_arguments(p, "slice", "models", "settings", "jobs")
    p.add_argument("--list-models", action="store_true", help="print the model ids, one per line, and nothing else")
    p.add_argument("--dry-run", action="store_true", help="same as the default: this tool never runs anything")
    args = p.parse_args(argv)
    parts = ("slice", "models", "settings", "jobs")
    req = request_for(args.iteration, from_args("plan_run.py", args, *parts), load_catalog())
    if args.list_models:
        print("\n".join(req.models))
        return 0
    return plan(validate(req), DriverOptions(args.iteration, execute=False), print)


@command
def validation_memo(argv=None):
    from sweboard import memo

    p = argparse.ArgumentParser(prog="validation_memo.py", description=(
        "Write runs/<run_id>/validation.md: the slice and lock, the preflight, the plan's exit gates (PASS/FAIL/N/A "
        "with evidence), error classes, variance, validity findings and cost; --sign-off NAME records who "
        "validated it and when (appended to the manifest's sign_offs; the board shows the run as signed)."))
    add_arguments(p, "run", resumable=False)
    p.add_argument("--against", metavar="RUN_ID", help="the first run of a rerun pair: adds the rerun gate and flips")
    p.add_argument("--sign-off", metavar="NAME", help="sign the memo as NAME (the run must be finished)")
    p.add_argument("--dry-run", action="store_true", help="print the memo instead of writing it")
    args = p.parse_args(argv)
    if args.against:
        check_run_id(args.against, "--against")
    run = checked("validation_memo.py", args, "run", writes=bool(args.sign_off), existing=True)
    if args.dry_run:
        print(memo.render(run.run_id, args.against))
        return 0
    path = memo.write(run.run_id, args.against, args.sign_off)
    print(f"{path}" + (f" (signed off by {args.sign_off})" if args.sign_off else ""))
    return 0

