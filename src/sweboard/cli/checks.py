"""Checks and tools that look before anything is spent or after a run: the preflight, the intervals'
coverage, mutation testing, a slice's tasks, timeouts worth raising, the catalog against the providers,
recorded usage against the provider's own."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sweboard.cli.command import checked, command
from sweboard.errors import SweboardError
from sweboard.request import add_arguments, check_run_id


@command
def interval_coverage(argv=None):
    from sweboard import coverage

    p = argparse.ArgumentParser(prog="interval_coverage.py", description=(
        "Simulate the board's 95% intervals on the project's slice shapes (3x1, 4x1, 8x4, 10x5, 12x3, 19x6 tasks x "
        "repos; true repo ICC 0 to 0.5; K=1 and K=3 all attempts with U-shaped task rates; paired differences) and "
        "print the worst coverage and the mean width at rate 0.5 per shape and metric (sweboard.coverage)."))
    p.add_argument("--replicates", type=int, default=coverage.REPLICATES, help="simulated slices a cell (2000)")
    p.add_argument("--dry-run", action="store_true", help="same as the default: this tool only computes")
    args = p.parse_args(argv)
    worst: dict[tuple, coverage.Cell] = {}
    cells = coverage.table(args.replicates)
    for c in cells:
        key = (c.metric, c.tasks, c.repos, c.icc)
        if key not in worst or c.coverage < worst[key].coverage:
            worst[key] = c
    widths = {(c.metric, c.tasks, c.repos, c.icc): c.mean_width for c in cells if c.rate == 0.5 and not c.delta}
    print(f"{'metric':22} {'tasks x repos':>13} {'ICC':>4} {'worst coverage':>14} {'at rate':>7} {'delta':>5} "
          f"{'mean width at 0.5':>17}")
    for (metric, tasks, repos, icc), c in sorted(worst.items()):
        width = widths.get((metric, tasks, repos, icc))
        print(f"{metric:22} {f'{tasks} x {repos}':>13} {icc:>4} {c.coverage:>14.3f} {c.rate:>7} {c.delta:>5} "
              f"{'' if width is None else f'{width:.3f}':>17}")
    print(f"lowest: {min(c.coverage for c in worst.values()):.3f} ({args.replicates} replicates a cell)")
    return 0


def _mutmut(root: Path, args) -> int:
    from sweboard.benchmarks import mutmut_run

    if args.dry_run:
        print(mutmut_run.setup_cfg())
        return 0
    results = mutmut_run.run(root, args.jobs, args.keep)
    for r in results:
        if r.status in ("survived", "no tests"):
            print(f"{'equivalent' if r.why_equivalent else 'SURVIVED  '}  {r.name}"
                  + (f"  -- {r.why_equivalent}" if r.why_equivalent else ""))
    killed, survived, equivalent, untested = mutmut_run.score(results)
    by_file: dict[str, list] = {}
    for r in results:
        by_file.setdefault(r.name.split(".x")[0], []).append(r)
    for module, rs in sorted(by_file.items()):
        k, s_, e, u = mutmut_run.score(rs)
        print(f"{module}: {len(rs)} mutants, {k} killed, {s_} survived, {e} equivalent, {u} reached by no test")
    scored = killed + survived + untested  # a mutant no test reaches is not killed
    share = killed / scored if scored else 0.0
    print(f"mutmut score: {killed}/{scored} non-equivalent mutants killed ({share:.1%}); {equivalent} equivalent; "
          f"{untested} of the rest in code no selected test reaches")
    return 0 if share >= args.min_score else 1


@command
def run_mutants(argv=None):
    from sweboard.benchmarks import mutation

    root = Path(__file__).resolve().parents[3]  # the checkout: src/sweboard/cli/checks.py
    p = argparse.ArgumentParser(prog="run_mutants.py", description=(
        "Mutation testing of the statistics and fold code: apply each mutant of tests/mutants.yaml to a copy of "
        "src/, run the fast statistics tests, and print killed/survived per mutant and the score (exit 1 under "
        "--min-score)."))
    p.add_argument("--list", type=Path, default=root / "tests" / "mutants.yaml", help="the mutant list")
    p.add_argument("--jobs", type=int, default=2, help="mutants tested side by side (default 2)")
    p.add_argument("--min-score", type=float, default=0.9, help="fraction of mutants that must be killed (0.9)")
    p.add_argument("--dry-run", action="store_true", help="only check that every mutant still applies")
    p.add_argument("--mutmut", action="store_true",
                   help="instead: mutmut over intervals.py, stats.py and compare.py against the fast statistics "
                        "tests (minutes; needs `pip install mutmut`); prints each survivor and the score over "
                        "non-equivalent mutants (tests/mutmut_equivalent.yaml says why a survivor is equivalent)")
    p.add_argument("--keep", type=Path, help="with --mutmut: work in this folder and keep it (resumable)")
    args = p.parse_args(argv)
    if args.mutmut:
        return _mutmut(root, args)
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


@command
def describe_slice(argv=None):
    from sweboard.taskinfo import describe

    p = argparse.ArgumentParser(prog="describe_slice.py", description=(
        "Print each task of a slice with its difficulty, gold-patch size (files, hunks, changed lines) and "
        "FAIL_TO_PASS / PASS_TO_PASS counts from the locked rows (when cached locally), and why it was chosen."))
    add_arguments(p, "slice")
    p.add_argument("--dry-run", action="store_true", help="same as the default: this tool only reads")
    args = p.parse_args(argv)
    print(describe(checked("describe_slice.py", args, "slice").slice))
    return 0


@command
def suggest_timeouts(argv=None):
    from sweboard.timeouts import render, suggestions

    p = argparse.ArgumentParser(prog="suggest_timeouts.py", description=(
        "List the tasks of a run whose attempts hit the wall-clock limit while the agent was still making "
        "progress (model calls answered in the last quarter of the limit), with the evidence path and an "
        "override for config/sweagent.yaml that cites it. The plan allows 120-180 s only with such evidence."))
    p.add_argument("run_id")
    p.add_argument("--dry-run", action="store_true", help="same as the default: this tool only reads")
    args = p.parse_args(argv)
    check_run_id(args.run_id)
    print(render(args.run_id, suggestions(args.run_id)))
    return 0


def _fetch_tokenizers(catalog, dry_run: bool) -> int:
    from sweboard.gateway.tokenizer import fetch, tokenizer_path

    names = sorted({m.tokenizer for m in catalog.models.values() if m.enabled and m.tokenizer})
    failed = 0
    for name in names:
        if dry_run:
            print(f"would fetch {name} -> {tokenizer_path(name)}")
            continue
        try:
            print(f"{name}: {fetch(name)}")
        except SweboardError as exc:
            failed += 1
            print(f"{name}: not fetched: {exc} (its models' unreported tokens stay approximated)")
    return 1 if failed else 0


@command
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
    p.add_argument("--tokenizers", action="store_true",
                   help="instead: fetch each enabled model's tokenizer.json (catalog field `tokenizer`) from the Hugging "
                        "Face hub into the cache, for counting tokens a reply does not report")
    args = p.parse_args(argv)
    catalog = load_catalog()
    if args.tokenizers:
        return _fetch_tokenizers(catalog, args.dry_run)
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


@command
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
    check_run_id(args.run_id)
    if args.sample < 1:
        raise SweboardError(f"--sample {args.sample}: expected a whole number >= 1")
    print(render(reconcile(args.run_id, credentials.get_key("OPENROUTER_API_KEY"), args.sample)))
    return 0


@command
def preflight(argv=None):
    from sweboard import preflight as pf
    from sweboard.dataset_lock import load_locked_rows
    from sweboard.preflight_record import still_valid

    p = argparse.ArgumentParser(prog="preflight.py", description=(
        "Prove the real path before anything is spent, on the run's own slice, split and runner: credentials, "
        "a one-token probe per model (in the ledger), task images (and SWE-agent's derived images), the evaluator "
        "canary, and the scripted solver through the runner. One line a step; stops at the first failure (exit 1). "
        "A passed preflight is recorded in runs/<run_id>/preflight.json and the run's manifest, and not repeated "
        "on --resume unless the tasks or a task image changed. The preflight is part of its run: the run is "
        "started once it exists, so what follows it takes --resume."))
    add_arguments(p, "run", "slice", "models", "settings", "probe")
    p.add_argument("--dry-run", action="store_true", help="say which steps would run; run nothing")
    args = p.parse_args(argv)
    if not args.model:
        raise SweboardError("--model: name at least one model (config/model_catalog.yaml)")
    run = checked("preflight.py", args, "run", "slice", "models", "settings", "probe")
    sl, config = run.slice, run.config
    if args.dry_run:  # the keys are checked even now: they cost nothing to look at
        try:
            keys = pf.credentials_step(run.models)
        except SweboardError as exc:
            keys = f"MISSING: {exc}"
        print(f"would run the preflight of {run.run_id} on {len(sl.instance_ids)} tasks of {sl.path.name} "
              f"[{sl.section}] with runner {config.runner}: credentials ({keys}), "
              f"{'probe' if run.request.probe else 'no probe'}, images, canary, solver")
        return 0
    from sweboard.request import claim

    claim(run)
    if run.request.resume:
        _, rows = load_locked_rows(sl.dataset_lock, sl.split, list(sl.instance_ids))
        rec = still_valid(run.run_id, rows, config.runner, sl.ids_hash)
        if rec:
            print(f"preflight passed at {rec['finished_at']} with the same tasks and task images: not repeated")
            return 0
    rec = pf.run(run.run_id, sl, run.models, config.runner, config, probe=run.request.probe)
    if not rec["passed"]:
        print(f"preflight FAILED at {rec['steps'][-1]['name']}: nothing was spent on the models", file=sys.stderr)
        return 1
    print(f"preflight passed in {sum(s['seconds'] for s in rec['steps']):.1f}s (runs/{run.run_id}/preflight.json)")
    return 0
