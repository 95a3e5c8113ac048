"""The iteration drivers (`tools/bootstrap_i0.sh`, `tools/run_i1.sh` ... `run_i4.sh`), end to end.

Why in Python: the drivers used to parse and plumb their own options in bash, so a rule written in
one tool did not hold in the driver (and the other way round). Now the bash files only set up the
Python environment and hand every argument here; the driver builds the same request as every tool
(`request.py`) and then runs, in phases, what the tools run:

  plan (without --execute: nothing is spent) -> claim -> Docker, dataset lock, scripted provider
  (offline) -> preflight -> every model's batch at once -> the official evaluator -> finish -> fold.

Ctrl-C or SIGTERM in any phase ends with exit 3 and a last line that says which phase stopped and
what to run; `--resume` then completes the run and its fold. A finished run resumed does nothing
but fold (no call, no grading) and print its rows.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

from sweboard.errors import EXIT_FAILED, EXIT_STOPPED, SweboardError

ROOT = Path(__file__).resolve().parents[2]
ITERATIONS = ("i0", "i1", "i2", "i3", "i4")


@dataclass(frozen=True)
class DriverOptions:
    """What only a driver is asked (the rest is the run request)."""

    iteration: str
    execute: bool  # False: plan only (nothing run or spent)
    preflight_only: bool = False


def default_run_id(iteration: str, offline: bool) -> str:
    return f"{iteration}-{'offline' if offline else 'lite'}-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}"


def request_for(iteration: str, req, catalog):
    """The iteration's defaults on top of what was typed: its slice file, K, settings, and its models."""
    from sweboard import planning
    from sweboard.paths import config_dir

    models = planning.models_for(catalog, iteration, req.offline, list(req.models) or None)
    return replace(req, instances=req.instances or config_dir() / planning.ITERATION_SLICES[iteration],
                   attempts=req.attempts if req.attempts is not None else planning.ITERATION_ATTEMPTS.get(
                       iteration, planning.DRIVER_ATTEMPTS),
                   extra_settings={**planning.ITERATION_SETTINGS.get(iteration, {}), **req.extra_settings},
                   models=tuple(m.id for m in models),
                   run_id=req.run_id or default_run_id(iteration, req.offline))


def drive(checked, options: DriverOptions, log=print) -> int:
    """Run the iteration for the validated request; the driver's exit status."""
    if not options.execute:
        return plan(checked, options, log)
    if checked.finished:
        log(f"run {checked.run_id} is finished and immutable: nothing to run, call or grade "
            f"(runs/{checked.run_id}/manifest.json)")
        return fold_and_report(checked, log)
    from sweboard.request import claim

    claim(checked)  # one driver per run (its batches belong to this session)
    phase = "set-up"
    try:
        ensure_engines(checked.request.offline)
        ensure_dataset_lock(checked)
        with scripted_provider(checked) if checked.request.offline else nullcontext():
            phase = "preflight"
            if not run_preflight(checked, options, log):
                log(f"{options.iteration}: the preflight failed (the line above says what to do); no model was run")
                return EXIT_FAILED
            if options.preflight_only:
                log("preflight only (--preflight): no model was run")
                return 0
            phase = "agent batches"
            from sweboard import launch

            log(f"== {len(checked.models)} models: {' '.join(m.id for m in checked.models)}")
            batches = launch.run_models(checked, log)
            phase = "evaluation"
            grade(checked, log)
            phase = "fold"
            finished = finish_quietly(checked, log)
            code = fold_and_report(checked, log)
    except KeyboardInterrupt as exc:
        word = "terminated" if type(exc).__name__ == "Terminated" else "interrupted"
        log(f"stopped: {word} during the {phase}; finished attempts are kept; rerun with --resume --run-id "
            f"{checked.run_id}")
        return EXIT_STOPPED
    if batches == EXIT_STOPPED:
        log(f"{options.iteration}: stopped (a budget, quota or damaged ledger; named above); rerun with --resume "
            f"--run-id {checked.run_id}")
        return EXIT_STOPPED
    if batches != 0:
        log(f"{options.iteration}: some models failed to run (named above); their rows say why; the run stays open")
        return EXIT_FAILED
    if not finished:
        log(f"run {checked.run_id}: left open (see above); fix the cause and rerun with --resume --run-id "
            f"{checked.run_id}")
    return code


def plan(checked, options: DriverOptions, log) -> int:
    """Plan only: what would run, what it could cost, what the slice can show. Nothing is run or spent."""
    from sweboard import launch, planning
    from sweboard.taskinfo import describe

    sl = checked.slice
    log(f"plan for {options.iteration}{' (offline, test equipment)' if checked.request.offline else ''}: "
        f"{len(checked.models)} models x {len(sl.instance_ids)} tasks from {sl.path.name} [{sl.section}]")
    if sl.difficulty:
        log(describe(sl))
    log(planning.render(planning.plan(checked.models, list(sl.instance_ids), checked.config), checked.config))
    no_probe = not checked.request.probe or (checked.request.offline and options.iteration != "i0")
    log("would run: the preflight (keys, " + ("no probe" if no_probe else "a one-token probe per model") +
        ", images, the evaluator canary, the scripted solver), then:")
    for line in launch.plan_models(checked):
        log(line)
    log("then the official evaluator, finish_run, the fold (runs/leaderboard.csv and its page)")
    log(f"plan only: nothing was run or spent. Add --execute to run (run id would be {checked.run_id}).")
    return 0


def ensure_engines(offline: bool) -> None:
    """Docker (and debootstrap for the offline images): the project's own scripts, started as glue."""
    scripts = (["ensure_debootstrap.sh"] if offline else []) + ["ensure_docker.sh"]
    for script in scripts:
        if subprocess.run([str(ROOT / "tools" / script)]).returncode != 0:
            raise SweboardError(f"tools/{script} failed (its lines above say why)")


def ensure_dataset_lock(checked) -> None:
    """Online, the first run locks the dataset (config/dataset.lock); later runs verify against it."""
    if checked.request.offline or checked.slice.dataset_lock.is_file():
        return
    from sweboard import dataset_lock as dl

    lock = dl.create_lock(checked.slice.dataset_lock, dl.DEFAULT_REPO_ID, dl.KNOWN_GOOD_REVISION)
    dl.write_lock(lock)


@contextmanager
def scripted_provider(checked):
    """The scripted provider (TEST EQUIPMENT) on 127.0.0.1 for the run, with its call log in runs/.provider/."""
    from sweboard.paths import runs_dir
    from sweboard.testbench.provider import ProviderSettings, ScriptedProvider

    folder = runs_dir() / ".provider"
    folder.mkdir(parents=True, exist_ok=True)
    settings = ProviderSettings(max_seconds=3600, call_log=folder / f"{checked.run_id}.calls.jsonl")
    saved = os.environ.get("SWEBOARD_SCRIPTED_BASE_URL")
    with ScriptedProvider(settings) as provider:
        print(f"== scripted provider (TEST EQUIPMENT) on {provider.base_url}", flush=True)
        os.environ["SWEBOARD_SCRIPTED_BASE_URL"] = provider.base_url  # the batches inherit it
        try:
            yield provider
        finally:
            if saved is None:
                os.environ.pop("SWEBOARD_SCRIPTED_BASE_URL", None)
            else:
                os.environ["SWEBOARD_SCRIPTED_BASE_URL"] = saved


def run_preflight(checked, options: DriverOptions, log) -> bool:
    """The run's preflight (reused on --resume while it holds: same tasks, runner and images)."""
    from sweboard import preflight as pf
    from sweboard.dataset_lock import load_locked_rows
    from sweboard.preflight_record import still_valid

    log("== preflight: keys, probe, images, evaluator canary, scripted solver through the runner")
    sl, config = checked.slice, checked.config
    if checked.request.resume:
        _, rows = load_locked_rows(sl.dataset_lock, sl.split, list(sl.instance_ids))
        rec = still_valid(checked.run_id, rows, config.runner, sl.ids_hash)
        if rec:
            log(f"preflight passed at {rec['finished_at']} with the same tasks and task images: not repeated")
            return True
    # offline (i1-i4), the scripted models that fail on purpose are what the run tests: they are not probed
    failing_on_purpose = checked.request.offline and options.iteration != "i0"
    probe = checked.request.probe and not failing_on_purpose
    why = "" if probe else ("offline: the scripted models that fail on purpose are not probed"
                            if failing_on_purpose else "--no-probe")
    rec = pf.run(checked.run_id, sl, checked.models, config.runner, config, probe=probe, log=log, no_probe_why=why)
    return rec["passed"]


def grade(checked, log) -> None:
    """Every model's attempts that still lack a verdict, by the official evaluator."""
    from sweboard import evaluation, executors
    from sweboard.manifest import read_manifest

    log("== official evaluation")
    manifest = read_manifest(checked.run_id) or {"batches": {}}
    with executors.opened() as executor:
        for model_id in manifest["batches"]:
            evaluation.evaluate(checked.run_id, model_id, executor)


def finish_quietly(checked, log) -> bool:
    """Finish the run when it is complete; a refusal is said and the run stays open."""
    from sweboard.finish import finish

    try:
        return finish(checked.run_id, [m.id for m in checked.models], log=log) == "finished"
    except SweboardError as exc:
        log(f"run {checked.run_id}: left open: {exc}")
        return False


def fold_and_report(checked, log) -> int:
    """The fold, then this run's own rows (never another run's) and where everything is."""
    from sweboard.fold import collect, fold, row_lines

    log("== leaderboard")
    collect()
    rows, written = fold()
    log(f"{written[0]}: {len(rows)} rows (and {', '.join(written[1:])})")
    lines = row_lines(rows, checked.run_id)
    log(f"rows of run {checked.run_id}:" if lines else f"run {checked.run_id} has no rows yet")
    for line in lines:
        log(line)
    log(f"run {checked.run_id}: runs/{checked.run_id}/manifest.json, predictions/{checked.run_id}/, "
        "runs/leaderboard.csv, runs/leaderboard.html")
    memo = write_memo_once(checked.run_id)
    if memo:
        log(f"validation memo: {memo} (sign it: tools/validation_memo.py --run-id {checked.run_id} --sign-off NAME)")
    return 0


def write_memo_once(run_id: str):
    """A finished run's validation memo, written once (tools/validation_memo.py rewrites it on request)."""
    from sweboard import memo
    from sweboard.manifest import read_manifest

    m = read_manifest(run_id) or {}
    if m.get("status") != "finished":
        return None
    path = memo.memo_path(run_id)
    return path if path.exists() else memo.write(run_id)
