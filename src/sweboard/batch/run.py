"""Running one batch: one process per (run, model) at a time, the run created or checked, the attempts
scheduled (`schedule.py`), the batch's entry merged into the manifest."""

from __future__ import annotations

import sys
import threading
from dataclasses import replace

from sweboard import credentials
from sweboard.batch.folders import set_aside_interrupted
from sweboard.batch.plan import BatchPlan
from sweboard.batch.run_state import init_run, reap_containers, record_failure
from sweboard.batch.schedule import AttemptSchedule
from sweboard.batch.summary import merge_sessions, summarize
from sweboard.errors import SweboardError
from sweboard.locks import exclusive_or_refuse
from sweboard.manifest import sampled_cpu, update_manifest, utc_now
from sweboard.paths import runs_dir
from sweboard.records import attempt_dir, read_record
from sweboard.runners.base import Runner
from sweboard.runners.baseline import BaselineRunner


_SAY = threading.Lock()


def say(line: str) -> None:
    """One whole line at a time: attempts running side by side never glue their lines together
    (print writes the text and its newline separately)."""
    with _SAY:
        sys.stdout.write(f"{line}\n")
        sys.stdout.flush()


def run_batch(plan: BatchPlan, runner: Runner, resume: bool = False, log=say) -> dict:
    """Run every missing attempt of the plan; returns the batch entry written to the manifest."""
    if not plan.model.enabled:
        raise SweboardError(f"model {plan.model.id} is disabled in the catalog (enabled: false)")
    try:  # before anything is created: a missing key or a malformed credentials file leaves no half-made run
        key = credentials.provider_key(plan.model)
        secrets = credentials.secret_values()
    except SweboardError as exc:
        record_failure(plan.run_id, plan.model, str(exc))  # in a run that exists, the model's row says so
        raise
    # one process per (run, model) at a time: two would run the same attempts and write the same records
    with exclusive_or_refuse(runs_dir() / f".{plan.run_id}.{plan.model.slug}.batch.lock",
                             f"run {plan.run_id}: {plan.model.id} is being run by another process right now; "
                             "wait for it to end (or stop it), then --resume"):
        return _run_locked(plan, runner, resume, key, secrets, log)


def _run_locked(plan: BatchPlan, runner: Runner, resume: bool, key: str | None, secrets: list[str], log) -> dict:
    manifest = init_run(plan, resume)
    if manifest.get("status") == "finished":
        log(f"run {plan.run_id} is finished; nothing to do")
        return manifest["batches"].get(plan.model.id, {})
    previous = manifest["batches"].get(plan.model.id)
    if previous and previous["status"].startswith("skipped"):
        # Final for this run: a retry of an unavailable model or provider belongs in a new run.
        log(f"{plan.model.id}: {previous['status']} (final for run {plan.run_id}; use a new --run-id to retry)")
        return previous
    if previous and previous["status"].startswith("failed"):
        log(f"{plan.model.id}: the previous session failed ({previous['status']}); trying again")
    from sweboard import executors

    executor = executors.current()
    try:
        return _run_with(plan, runner, resume, key, secrets, log, executor)
    finally:
        executor.close()


def _run_with(plan: BatchPlan, runner: Runner, resume: bool, key: str | None, secrets: list[str], log,
              executor) -> dict:
    if plan.model.is_baseline:
        runner = BaselineRunner()
    elif resume:
        reap_containers(plan, executor)
    if key and key not in secrets:
        secrets.append(key)
    if resume:
        moved = set_aside_interrupted(plan, secrets)
        if moved:
            log(f"{plan.model.id}: {moved} attempts cut short by the last session set aside (scrubbed)")
    try:
        return _run(plan, runner, key, secrets, log, executor)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the attempt under way is set aside on --resume
        record_failure(plan.run_id, plan.model, "interrupted (Ctrl-C or SIGTERM); --resume continues", runner,
                       prefix="stopped: ")
        raise
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        record_failure(plan.run_id, plan.model, reason, runner)
        raise


def _run(plan: BatchPlan, runner: Runner, key: str | None, secrets: list[str], log, executor) -> dict:
    """Every missing attempt, then the batch's entry (into the manifest, merged with earlier sessions)."""
    started_at, stats = utc_now(), {}
    log(_opening_line(plan, runner))
    if plan.model.calls_a_model and hasattr(runner, "prepare") and executor.name == "local":
        runner.prepare()  # e.g. the warm fork server starts importing while images are checked
    if plan.model.calls_a_model or plan.model.provider.name == "canary":
        # before any attempt's clock, where attempts will run: a pull is never the model's time
        executor.prepare(plan.rows, None, log, **({"run_id": plan.run_id, "split": plan.slice.split}
                                                  if plan.model.calls_a_model else {}))
    if plan.model.calls_a_model:  # what each task image's /testbed reaches beyond its base (validity/history.py)
        images, blocked, record = executor.plan_images(plan.rows, plan.config.history, log)
        plan = replace(plan, agent_images=images, blocked=blocked, history=record)
        for iid, why in sorted(blocked.items()):
            log(f"  {iid}: not run: {why}")
        executor.prepare([plan.agent_row(r) for r in plan.rows if r["instance_id"] not in blocked], runner, log)
    with sampled_cpu(stats):
        reason = AttemptSchedule(plan, runner, key, secrets, log, executor).run()
    entry = summarize(plan, runner, started_at, stats, reason)
    if reason:
        log(f"{plan.model.id}: {reason}")
    update_manifest(plan.run_id, lambda m: m["batches"].__setitem__(
        plan.model.id, merge_sessions(m["batches"].get(plan.model.id), entry)))
    return entry


def _opening_line(plan: BatchPlan, runner: Runner) -> str:
    ks = {plan.attempts_for(r["instance_id"])[0] for r in plan.rows}
    total = sum(plan.attempts_for(r["instance_id"])[0] for r in plan.rows)
    done = sum(1 for r in plan.rows for k in range(1, plan.attempts_for(r["instance_id"])[0] + 1)
               if read_record(attempt_dir(plan.run_id, plan.model, r["instance_id"], k)))
    return (f"{plan.model.id}: {done} of up to {total} attempts already recorded; runner {runner.name} "
            f"({runner.version() or 'version unknown'}), K per task {sorted(ks)}, "
            f"{'stop at first resolved' if plan.config.stop_after_resolved else 'all K attempts'}")
