"""The iteration drivers' one entry (`tools/drive.py`, which `bootstrap_i0.sh` and `run_i1.sh` ... `run_i4.sh`
exec with every argument they were given): the same request as every tool, then `sweboard.drive`."""

from __future__ import annotations

import argparse

from sweboard.cli.command import command
from sweboard.request import add_arguments

PARTS = ("run", "slice", "models", "settings", "jobs", "cluster", "probe")
USAGE = {"i0": "bootstrap_i0.sh", "i1": "run_i1.sh", "i2": "run_i2.sh", "i3": "run_i3.sh", "i4": "run_i4.sh"}
ABOUT = {
    "i0": "i0 end to end on config/instances_i0.yaml (three Lite dev tasks; offline: the bundled set): venv, Docker, "
          "the dataset lock, the preflight, the models' batches (default: the no-patch baseline instant_empty_submit, "
          "which spends no API budget; offline: scripted/solver and the baseline), the official evaluator, finish, "
          "and the fold into runs/leaderboard.csv. It executes unless --dry-run.",
    "i1": "i1: the Chutes models on config/instances_i1.yaml, K=2.",
    "i2": "i2: the Chutes and OpenRouter models on config/instances_i1.yaml, K=2.",
    "i3": "i3: the Chutes and OpenRouter models on config/instances_i3.yaml (19 tasks, easy and medium), K=2, 90 s "
          "an attempt.",
    "i4": "i4: as i3, for tokens, cost and latency.",
}


def parser(iteration: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=USAGE[iteration], description=(
        ABOUT[iteration] + " Always with the no-patch baseline. Without --execute (i1-i4) it only plans: models x "
        "tasks x attempts, the bound on API calls and dollars, what the slice can show; nothing is spent. With "
        "--execute: preflight, every model's batch at once (sharing --jobs, each provider's max_concurrency and "
        "the CPU guardrail), the official evaluator, finish, the fold; the last lines are this run's own rows. "
        "--offline: the bundled task set and the scripted provider on 127.0.0.1 (TEST EQUIPMENT). Ctrl-C stops "
        "with exit 3; --resume completes the run."))
    p.add_argument("--iteration", default=iteration, choices=sorted(USAGE), help=argparse.SUPPRESS)
    p.add_argument("--execute", action="store_true", default=iteration == "i0",
                   help="actually run (default for i0; for i1-i4 the default is a plan, nothing spent)")
    p.add_argument("--dry-run", action="store_true", help="plan only: print what would run; run and write nothing")
    p.add_argument("--preflight", action="store_true", help="run only the preflight, then stop")
    add_arguments(p, *PARTS, run_required=False)
    return p


@command
def drive(argv=None):
    import sys

    from sweboard.catalog import load_catalog
    from sweboard.drive import DriverOptions, drive as run_driver, request_for
    from sweboard.request import from_args, validate

    argv = list(sys.argv[1:] if argv is None else argv)
    iteration = argv[argv.index("--iteration") + 1] if "--iteration" in argv[:-1] else "i1"
    args = parser(iteration if iteration in USAGE else "i1").parse_args(argv)
    req = request_for(args.iteration, from_args(USAGE[args.iteration], args, *PARTS), load_catalog())
    run = validate(req)
    from sweboard import executors

    executors.use_cluster(run.request.cluster)
    options = DriverOptions(args.iteration, execute=(args.execute or args.preflight) and not args.dry_run,
                            preflight_only=args.preflight)
    return run_driver(run, options, log=lambda line: print(line, flush=True))  # each line as it happens
