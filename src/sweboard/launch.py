"""From a validated request to running batches: one model's batch here, or every model's at once.

`run_models` starts one `run_model_batch.py` process per model (scheduler.py) and hands each exactly
the request it was given, resolved: the same slice file, section and *task ids* (so a selection made
with `--filter` or `--slice` reaches every batch unchanged), the same settings, `--resume`, `--cluster`.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from sweboard.errors import EXIT_STOPPED, worst_exit
from sweboard.isolation import python_argv

TOOLS = Path(__file__).resolve().parents[2] / "tools"


def describe_batch(checked) -> list[str]:
    """The lines a batch's --dry-run prints: model, runner, K, tasks, timeout, dataset."""
    from sweboard.dataset_lock import read_lock

    model, config, sl = checked.models[0], checked.config, checked.slice
    lines = [f"run {checked.run_id}: model {model.id} ({model.provider.name}, base URL "
             f"{model.provider.base_url() or 'none: no model is called'}), runner "
             f"{'baseline' if model.is_baseline else config.runner}, K={config.attempts} x {len(sl.instance_ids)} tasks "
             f"({'stop at first resolved' if config.stop_after_resolved else 'all K'}), "
             f"timeout {config.attempt_timeout_seconds:g}s each"]
    if sl.dataset_lock.is_file():
        lock = read_lock(sl.dataset_lock)
        lines.append(f"dataset {lock.repo_id}@{lock.revision[:12]} split {sl.split} ({sl.path.name} [{sl.section}]): "
                     f"{', '.join(sl.instance_ids)}")
    else:
        lines.append(f"dataset lock {sl.dataset_lock} does not exist yet (tools/update_dataset_lock.py writes it); "
                     f"split {sl.split}: {', '.join(sl.instance_ids)}")
    return lines


def run_one_batch(checked, log=print, runner=None) -> int:
    """One model's batch of the request's run (run_model_batch.py). `runner`: the configured one unless
    given (the scale benchmark's instant attempts, test equipment, come in here the same way)."""
    from sweboard.batch import BatchPlan, record_failure, run_batch
    from sweboard.credentials import provider_key
    from sweboard.dataset_lock import load_locked_rows
    from sweboard.runners import get_runner

    model, config, sl = checked.models[0], checked.config, checked.slice
    if checked.finished:  # immutable: nothing to load, build, call or grade
        entry = checked.manifest["batches"].get(model.id) or {}
        log(f"run {checked.run_id} is finished; {model.id}: {entry.get('status', 'no batch')} (nothing to do)")
        return 0
    runner = runner or get_runner(config.runner)
    if model.calls_a_model and hasattr(runner, "prepare") and not checked.request.cluster:
        runner.prepare()  # a warm agent server imports while the rows load and the images are checked
    try:
        provider_key(model)  # a missing key is found before anything slow (rows, images)
        lock, rows = load_locked_rows(sl.dataset_lock, sl.split, list(sl.instance_ids))
        if lock.source == "bundled" and not model.is_baseline:
            from sweboard.testbench import images

            for event in images.build_all(list(sl.instance_ids), log=lambda s: None):
                if event.action == "built":
                    log(f"built image {event.tag} ({event.seconds:.1f}s)")
    except Exception as exc:  # the batch never started: say so in the run (if it exists), then report
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        record_failure(checked.run_id, model, reason)
        raise
    entry = run_batch(BatchPlan(checked.run_id, model, sl, lock, rows, config), runner, resume=checked.request.resume)
    log(f"{model.id}: {entry.get('status', 'done')}; predictions in {entry.get('predictions', '-')}")
    return EXIT_STOPPED if str(entry.get("status", "")).startswith("stopped") else 0


def batch_command(checked, model_id: str) -> list[str]:
    """The run_model_batch.py command for one model: the request, resolved, passed on exactly."""
    req, sl, config = checked.request, checked.slice, checked.config
    cmd = python_argv(str(TOOLS / "run_model_batch.py"), "--run-id", checked.run_id, "--model", model_id,
                      "--instances", str(sl.path.resolve()), "--section", sl.section,
                      "--instance-ids", *sl.instance_ids, "--set", f"jobs={config.jobs}")
    for item in req.settings:
        cmd += ["--set", item]
    for key, value in req.extra_settings.items():
        cmd += ["--set", f"{key}={value}"]
    if req.runner:
        cmd += ["--runner", req.runner]
    if req.attempts is not None:
        cmd += ["--attempts", str(req.attempts)]
    if req.all_attempts:
        cmd.append("--all-attempts")
    if req.resume:
        cmd.append("--resume")
    if req.cluster:
        cmd += ["--cluster", req.cluster]
    return cmd


def plan_models(checked) -> list[str]:
    """What run_models' --dry-run prints: how much runs at once, and each batch's exact command."""
    config = checked.config
    n = len(checked.models)
    lines = [f"{n} batches, {min(config.jobs, n)} at once, {config.jobs} agent attempts at once in all, CPU ceiling "
             f"{config.cpu_ceiling_percent:g}%, on {len(checked.slice.instance_ids)} tasks of "
             f"{checked.slice.path.name} [{checked.slice.section}]:"]
    lines += ["  " + shlex.join(batch_command(checked, m.id)) for m in checked.models]
    return lines


def run_models(checked, log=print, batch_argv=batch_command) -> int:
    """Every model's batch at once under one capacity (scheduler.py); the worst batch's exit status.
    `batch_argv(checked, model_id)`: each batch's command (the scale benchmark swaps in its own child)."""
    from sweboard import scheduler
    from sweboard.manifest import run_dir

    if checked.finished:
        log(f"run {checked.run_id} is finished and immutable: nothing to run, call or grade")
        return 0
    batches = [scheduler.BatchProcess(m.id, m.slug, batch_argv(checked, m.id), instant=m.is_baseline)
               for m in checked.models]
    k = checked.config.attempts
    by_id = {m.id: m for m in checked.models}
    scheduler.run_batches(batches, checked.config.jobs, run_dir(checked.run_id), list(checked.slice.instance_ids),
                          lambda mid: 1 if by_id[mid].is_baseline else k)
    for b in batches:
        took = f"{b.ended - b.started:.1f}s" if b.ended and b.started else "-"
        log(f"{b.model}: exit {b.code} in {took}")
    failed = [b.model for b in batches if b.code not in (0, EXIT_STOPPED)]
    stopped = [b.model for b in batches if b.code == EXIT_STOPPED]
    if failed:
        print(f"models whose batch failed: {' '.join(failed)}", file=sys.stderr)
    if stopped:
        print(f"models stopped (resumable with --resume): {' '.join(stopped)}", file=sys.stderr)
    return worst_exit(b.code for b in batches)
