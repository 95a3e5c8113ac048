"""One model over one slice: schedule attempts, hand each to a runner, record everything.

The harness owns the loop. An attempt is one task × one model × one try: its own folder,
seed, container and `record.json`, written once, atomically, when the attempt ends. The
record is the unit of resume: `--resume` skips every attempt that has one, so a finished
attempt's model calls are never repeated, whatever interrupted the run (an attempt cut
short is moved aside as `attempt-<k>.interrupted-<n>` and run again).

Attempts of one task run in order. With `stop_after_resolved` (the default) each attempt
is graded by the official evaluator before the next is launched and the task stops at the
first resolved attempt; otherwise all K run (for the unbiased pass@k estimator) and are
graded later. All model traffic goes through the run's metered gateway (`gateway.py`).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sweboard import credentials
from sweboard.catalog import ModelEntry
from sweboard.coalesce import Coalescer
from sweboard.dataset_lock import DatasetLock
from sweboard.errors import SweboardError
from sweboard.gateway import Gateway, ProbeGate, RetryPolicy, read_calls, summarize_calls
from sweboard.instances import Slice, same_selection
from sweboard.ledger import Ledger
from sweboard.outcomes import agent_failure, is_infra, needs_grading
from sweboard.versions import tool_versions
from sweboard.manifest import (git_state, read_manifest, run_dir, sampled_cpu, update_manifest,
                               utc_now, write_manifest)
from sweboard.locks import exclusive_or_refuse, file_lock
from sweboard.paths import predictions_dir, runs_dir
from sweboard.runconfig import CAPACITY_SETTINGS, RunnerConfig, _comparable, config_differences
from sweboard.runners.base import (ABORT, BATCH_LABEL, GATEWAY_KEY, Attempt, AttemptResult, Runner, batch_label,
                                   scrub_files)
from sweboard.runners.baseline import BaselineRunner
from sweboard.slots import Cancelled, capacity_for
from sweboard.records import RECORD, atomic_json, attempt_dir, load_record, predictions_path, read_record, read_verdict
from sweboard.untrusted import confined_file

PRESTART = 2  # attempts of a batch running before its provider answered one call (see _run)


@dataclass(frozen=True)
class BatchPlan:
    run_id: str
    model: ModelEntry
    slice: Slice
    lock: DatasetLock
    rows: list[dict]
    config: RunnerConfig
    run_kind: str | None = None  # "canary" / "preflight": a check, never on the board, from its first write

    def attempts_for(self, instance_id: str) -> tuple[int, str]:
        if self.model.is_baseline:
            return 1, "the no-patch baseline is deterministic: one attempt"
        return self.config.attempts_for(self.model.id, instance_id)



def _set_aside(out: Path, reason: str = "interrupted", secrets: list[str] | None = None) -> Path | None:
    """Move an attempt folder aside, kept for the record and renamed, so the attempt can run again.

    `interrupted`: cut short (kill, Ctrl-C, budget) and left without a record;
    `infra`: its record says infrastructure failed (the task container never started, the
    provider never answered). Its paid calls stay in `calls.jsonl` and count in the usage totals.
    """
    if not out.exists() or not any(out.iterdir()):
        return None
    record, problem = load_record(out)
    if reason == "interrupted" and (record is not None or problem):
        return None
    if reason == "infra" and (record is None or not is_infra(agent_failure(record) or "")):
        return None
    scrub_files(out, secrets if secrets is not None else credentials.secret_values())  # e.g. after a kill -9
    n = 1
    while out.with_name(f"{out.name}.{reason}-{n}").exists():
        n += 1
    target = out.with_name(f"{out.name}.{reason}-{n}")
    out.rename(target)
    return target


def set_aside_interrupted(plan: BatchPlan, secrets: list[str]) -> int:
    """Every attempt a killed session left without a record, moved aside (and scrubbed) at once on
    --resume, not only when its task runs again: a resume that stops early (a failing provider, a
    budget) must not leave one behind, keys and all."""
    moved = 0
    for row in plan.rows:
        for k in range(1, plan.attempts_for(row["instance_id"])[0] + 1):
            moved += _set_aside(attempt_dir(plan.run_id, plan.model, row["instance_id"], k), "interrupted",
                                secrets) is not None
    return moved


def set_aside_attempts(run_id: str, model: ModelEntry) -> list[dict]:
    """Every folder set aside for a model, with the usage its calls recorded (money spent is spent)."""
    base = run_dir(run_id) / "attempts" / model.slug
    out = []
    for folder in sorted(base.glob("*/attempt-*.*-*")):
        reason = folder.name.split(".", 1)[1].rsplit("-", 1)[0]
        out.append({"path": str(folder.relative_to(run_dir(run_id))), "reason": reason,
                    "usage": summarize_calls(read_calls(folder / "calls.jsonl"))})
    return out



def init_run(plan: BatchPlan, resume: bool) -> None:
    """Create the run, or check that an existing one was started on the same data and slice.

    Under a lock beside the run folder: two batches of one new run started together must not see
    each other's half-created run as a stranger's folder."""
    with file_lock(runs_dir() / f".{plan.run_id}.init.lock"):
        _init_run(plan, resume)


PREFLIGHT_FILES = ("preflight.json", "preflight-probe")  # what tools/preflight.py writes before the run exists


def _preflight(run_id: str) -> dict:
    """The run's preflight record (tools/preflight.py), for its manifest."""
    from sweboard.preflight_record import read_record

    rec = read_record(run_id)
    return {"preflight": rec} if rec else {}


def _init_run(plan: BatchPlan, resume: bool) -> None:
    existing = read_manifest(plan.run_id)
    batch_dir = run_dir(plan.run_id) / "attempts" / plan.model.slug
    if existing is None:
        rd = run_dir(plan.run_id)
        if rd.exists() and any(p.name not in PREFLIGHT_FILES for p in rd.iterdir()):
            raise SweboardError(f"runs/{plan.run_id}: exists without a manifest.json; refusing to write into it")
        rd.mkdir(parents=True, exist_ok=True)
        # The exact rows agents and evaluator see: the locked data, this slice, nothing else.
        (rd / "dataset.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in plan.rows))
        write_manifest(plan.run_id, {
            "schema": 1, "run_id": plan.run_id, "status": "running", "created_at": utc_now(),
            "project": git_state(), "versions": tool_versions(), "dataset_lock": plan.lock.summary(),
            "slice": {"file": str(plan.slice.path), "section": plan.slice.section, "split": plan.slice.split,
                      "instance_ids": list(plan.slice.instance_ids), "instance_ids_sha256": plan.slice.ids_hash,
                      "rationale": plan.slice.rationale, "difficulty": plan.slice.difficulty},
            "dataset_file": "dataset.jsonl", "runner_config": plan.config.to_dict(),
            "batches": {}, "evaluations": {}, **_preflight(plan.run_id),
            **({"kind": plan.run_kind} if plan.run_kind else {}),
        })
        return
    if existing.get("status") == "finished" and not resume:
        raise SweboardError(f"run {plan.run_id} is finished and immutable; use a new --run-id")
    preflight = _preflight(plan.run_id)
    if preflight and existing.get("preflight") != preflight["preflight"]:
        update_manifest(plan.run_id, lambda m: m.update(preflight))  # repeated: its images changed
    same_selection(plan.run_id, plan.slice, existing, None)
    if existing["dataset_lock"]["revision"] != plan.lock.revision:
        raise SweboardError(f"run {plan.run_id} used dataset revision {existing['dataset_lock']['revision']}, "
                            f"not {plan.lock.revision}; use a new --run-id")
    if batch_dir.exists() and not resume:
        raise SweboardError(f"run {plan.run_id} already has a batch for {plan.model.id}; "
                            "pass --resume to finish it, or use a new --run-id")
    # A resume must not change the experiment: same settings as the batch (or run) it continues.
    batch = existing.get("batches", {}).get(plan.model.id) or {}
    recorded = batch.get("runner_config")
    if recorded is not None:
        diff = config_differences(recorded, plan.config.to_dict(), ignore=CAPACITY_SETTINGS)
    else:  # a new model in this run: same settings as the run, whichever runner it uses
        diff = config_differences(existing["runner_config"], plan.config.to_dict(),
                                  ignore=("runner", *CAPACITY_SETTINGS))
    if diff:
        old = _comparable(recorded or existing["runner_config"])
        new = _comparable(plan.config.to_dict())
        detail = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in diff)
        raise SweboardError(f"run {plan.run_id} was started with other settings ({detail}); resume with the same "
                            "settings, or use a new --run-id")


def reap_containers(plan: BatchPlan, executor) -> int:
    """Remove the containers a killed session of this batch left, on every node the executor runs
    attempts on (this process holds the batch lock, so none of them is in use); a missing Docker is
    not this function's problem to report."""
    from sweboard.evaluation import leftover_containers

    try:
        return (executor.reap(f"{BATCH_LABEL}={batch_label(plan.run_id, plan.model.slug)}")
                + executor.reap_named(leftover_containers(plan.run_id, plan.model.id)))
    except SweboardError:
        return 0



def _write_record(plan: BatchPlan, runner: Runner, out: Path, row: dict, k: int, seed: int, timeout: float,
                  timeout_reason: str, began: str, result: AttemptResult, secrets: list[str], log,
                  queued: float = 0.0, ran_from: float | None = None, node: dict | None = None) -> dict:
    calls = read_calls(out / "calls.jsonl")
    iid = row["instance_id"]
    record = {"run_id": plan.run_id, "model": plan.model.id, "instance_id": iid, "attempt": k, "seed": seed,
              "timeout_seconds": timeout, "timeout_reason": timeout_reason, "runner": runner.name,
              "started_at": began, "finished_at": utc_now(), **result.to_dict(),
              "queued_seconds": queued,  # waiting for a job/provider slot and the CPU guardrail: nobody's time
              # when it held its job slot (epoch seconds): what ran at once, to the millisecond
              "ran_epoch": [round(ran_from, 3), round(time.time(), 3)] if ran_from is not None else None,
              # a runner whose calls sweboard did not meter (imported predictions): usage unknown, never 0
              "gateway_calls": calls,
              "node": node,  # where it ran: host, Docker engine id, task image id (and the Ray node)
              "usage": summarize_calls(calls) if getattr(runner, "metered", True) else None}
    record["error"] = credentials.redact(record["error"], secrets)
    atomic_json(out / RECORD, record)
    log(f"  {iid} #{k}: {result.status}{' (' + result.error_class + ')' if result.error_class else ''} "
        f"in {result.duration_seconds or 0:.1f}s, {(record['usage'] or {}).get('model_calls', 0)} calls"
        + (f": {record['error'][:200]}" if is_infra(agent_failure(record) or "") else ""))
    return record


class _Stop:
    """Why the batch stopped launching new attempts (first reason wins)."""

    def __init__(self):
        self.reason: str | None = None
        self._lock = threading.Lock()

    def set(self, reason: str) -> None:
        with self._lock:
            self.reason = self.reason or reason

    def __bool__(self) -> bool:
        return self.reason is not None


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
    init_run(plan, resume)
    manifest = read_manifest(plan.run_id)
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


def record_failure(run_id: str, model: ModelEntry, reason: str, runner: Runner | None = None,
                   prefix: str = "failed: ") -> None:
    """A batch that crashed still gets an entry: `failed: <reason>`, so the run cannot be finished without it."""
    existing = read_manifest(run_id)
    if existing is None or existing.get("status") == "finished":
        return
    try:
        secrets = credentials.secret_values()
    except SweboardError:
        secrets = []  # our own messages never hold a key's value; a bad credentials file is the reason itself

    def mutate(m):
        entry = m["batches"].get(model.id) or {
            "model": model.public_dict(),
            "kind": "baseline" if model.is_baseline else ("test-equipment" if model.test_equipment else "model"),
            "runner": runner.name if runner else None, "attempts": {}, "wall_seconds": 0.0}
        entry["status"] = prefix + credentials.redact(reason, secrets)
        m["batches"][model.id] = entry
    try:
        update_manifest(run_id, mutate)
    except OSError as exc:  # e.g. the disk is full: say so once, and let the original failure be reported
        import sys

        print(f"runs/{run_id}/manifest.json: could not record '{prefix}{reason[:120]}' ({exc.strerror or exc})",
              file=sys.stderr)


def _run(plan: BatchPlan, runner: Runner, key: str | None, secrets: list[str], log, executor) -> dict:

    stop = _Stop()
    failure_streak = [0]  # attempts in a row whose calls never got an answer from the provider
    streak_lock = threading.Lock()
    started_at, t0 = utc_now(), time.monotonic()
    stats: dict = {}
    total = sum(plan.attempts_for(r["instance_id"])[0] for r in plan.rows)
    done = sum(1 for r in plan.rows for k in range(1, plan.attempts_for(r["instance_id"])[0] + 1)
               if read_record(attempt_dir(plan.run_id, plan.model, r["instance_id"], k)))
    log(f"{plan.model.id}: {done} of up to {total} attempts already recorded; runner {runner.name} "
        f"({runner.version() or 'version unknown'}), K per task {sorted({plan.attempts_for(r['instance_id'])[0] for r in plan.rows})}, "
        f"{'stop at first resolved' if plan.config.stop_after_resolved else 'all K attempts'}")

    # Until the provider has answered one call of this batch, its first calls go upstream only as a
    # serial run would make them (gateway.ProbeGate), so a model that is retired or a provider that is
    # down costs what it would cost run serially (the failure streak trips after the same attempts),
    # not `jobs` attempts' worth of failing calls. Meanwhile max(PRESTART, streak) attempts run: the
    # probing ones, and with one probe a next one with its container and agent up and its first call
    # held, ready the moment the probe is answered. More would hold job and provider slots that other
    # models' attempts could use, for nothing.
    answered = threading.Event()
    gate = ProbeGate(answered, width=plan.config.provider_failure_streak)
    prestart = threading.Semaphore(max(PRESTART, plan.config.provider_failure_streak))

    # Attempts that end while one of this batch's gradings runs share the next harness run (coalesce.py).
    def grade(items: list) -> dict:
        from sweboard.evaluation import evaluate_attempts

        return evaluate_attempts(plan.run_id, plan.model.id, items, in_batch=True, executor=executor, log=log)

    grader = Coalescer(grade)

    def stopping() -> bool:
        """No new attempt: the batch stopped, or its wall-clock budget is spent (checked again after any wait)."""
        if not stop and time.monotonic() - t0 > plan.config.model_budget_seconds:
            stop.set(f"stopped: per-model wall-clock budget of {plan.config.model_budget_seconds:g}s reached; "
                     "--resume continues")
            gate.stop()
        return bool(stop)

    def one_attempt(gateway: Gateway | None, row: dict, k: int) -> dict | None:
        if plan.model.is_baseline:  # no container, no call: nothing to queue for
            return launch(gateway, row, k, 0.0)
        provider = plan.model.provider if plan.model.calls_a_model else None
        early = False  # one of the PRESTART attempts let in before the provider answered
        while provider is not None and not answered.is_set():
            if stop:
                return None
            if prestart.acquire(timeout=0.2):
                early = True
                break
        try:
            # a probe (its provider has not answered this batch yet) goes before other waiters, then
            # first attempts before second ones (slots.SlotPool.hold)
            with capacity.attempt(provider, cancelled=lambda: bool(stop) or ABORT.is_set(), log=log,
                                  cpu_guard=executor.guards_cpu and plan.run_kind != "canary",
                                  rank=0 if early else k) as queued:
                if stopping():  # the batch stopped (or ran out of time) while this attempt waited its turn
                    return None
                return launch(gateway, row, k, queued)
        except Cancelled:
            return None  # the batch stopped while this attempt waited for a slot: nothing ran
        finally:
            if early:
                prestart.release()

    def launch(gateway: Gateway | None, row: dict, k: int, queued: float) -> dict | None:
        iid = row["instance_id"]
        ran_from = time.time()
        out = attempt_dir(plan.run_id, plan.model, iid, k)
        _set_aside(out, secrets=secrets)
        out.mkdir(parents=True, exist_ok=True)
        timeout, timeout_reason = plan.config.timeout_for(plan.model.id, iid)
        base_url, route = None, None
        if gateway is not None:
            # the attempt's clock starts at the agent's first call; the gateway never waits past its end
            base_url, route = gateway.register(plan.model, key, out / "calls.jsonl", plan.config.max_tokens,
                                               secrets=secrets, budget_seconds=timeout + 2, answered=answered,
                                               gate=gate)
        attempt = Attempt(plan.run_id, plan.model, row, k, plan.config.seed + k - 1, timeout, out, plan.config, base_url,
                          started=route.first_call if route is not None else None,
                          reached=route.reached if route is not None else None)
        began = utc_now()
        try:  # the attempt itself runs where the executor runs it: here, or on a worker node
            result, node = executor.run(attempt, runner, GATEWAY_KEY if gateway else None, secrets)
        finally:
            if gateway is not None:
                gateway.unregister(base_url)  # ends in-flight calls; returns once their records are written
            scrub_files(out, secrets)  # every exit path: done, error, Ctrl-C, SIGTERM
        if route is not None and route.exhausted:
            stop.set(f"stopped: {route.exhausted}; --resume continues once the budget allows")
            gate.stop()
            return None  # not an attempt result: no record, so a later --resume runs it again
        if route is not None and route.refused and not route.answered.is_set():
            gate.done(route, failure_streak[0])
            return None  # its first call was held until the batch stopped: nothing of the model's ran
        record = _write_record(plan, runner, out, row, k, attempt.seed, timeout, timeout_reason, began, result,
                               secrets, log, queued, ran_from, node)
        if result.error_class == "model_unavailable":
            stop.set("skipped: model unavailable (provider answered 404 / unknown model)")
        usage = record["usage"] or {"model_calls": 0, "failed_calls": 0}
        no_answer = usage["model_calls"] == usage["failed_calls"]  # not one answered call (hangs included)
        provider_side = agent_failure(record) in ("provider_error", "rate_limited", "provider_timeout", "agent_error")
        with streak_lock:
            failure_streak[0] = failure_streak[0] + 1 if (provider_side and no_answer) else 0
            if failure_streak[0] >= plan.config.provider_failure_streak:
                stop.set(f"skipped: provider failing ({failure_streak[0]} attempts in a row without one successful "
                         f"call; last: {result.error_class})")
        if stop:
            gate.stop()  # every first call still held is refused: those attempts leave no record
        if route is not None:
            gate.done(route, failure_streak[0])  # counted: a probe that got no answer lets the next call go
        return record

    def one_task(gateway: Gateway | None, row: dict) -> None:
        iid = row["instance_id"]
        k_max, _ = plan.attempts_for(iid)
        for k in range(1, k_max + 1):
            out = attempt_dir(plan.run_id, plan.model, iid, k)
            record, problem = load_record(out)
            if problem:
                aside = _set_aside(out, "damaged", secrets)
                log(f"  {out / RECORD}: damaged ({problem}); set aside as {aside.name if aside else '?'}, "
                    "the attempt runs again")
            if record is not None and is_infra(agent_failure(record) or ""):
                # infrastructure failed this attempt in an earlier session: keep it aside, run it again
                _set_aside(out, "infra", secrets)
                record = None
            if record is None:
                if stopping():
                    return
                record = one_attempt(gateway, row, k)
                if record is None:
                    return
                if is_infra(agent_failure(record) or ""):
                    return  # not again in this session; the row says incomplete until --resume reruns it
            if not plan.config.stop_after_resolved or k == k_max or not needs_grading(record):
                continue
            verdict = read_verdict(out)
            for _ in range(2):  # one more try after an evaluator failure (each harness run is recorded)
                if verdict is not None:
                    break
                verdict = grader.submit((iid, k, out, record["patch"]), (iid, k))
            if verdict is None:
                return  # the evaluator failed: whether attempt k+1 is needed is unknown; the task stays open
            if verdict["verdict"] == "resolved":
                return

    if plan.model.calls_a_model and hasattr(runner, "prepare") and executor.name == "local":
        runner.prepare()  # e.g. the warm fork server starts importing while images are checked
    if plan.model.calls_a_model or plan.model.provider.name == "canary":
        # before any attempt's clock, where attempts will run: a pull is never the model's time
        executor.prepare(plan.rows, runner if plan.model.calls_a_model else None, log,
                         **({"run_id": plan.run_id, "split": plan.slice.split} if plan.model.calls_a_model else {}))
    # a thread per task (attempts of one task in order); what runs at once is capped by slots.py:
    # jobs across the iteration's batches, the provider's max_concurrency, and the CPU guardrail
    capacity = capacity_for(plan.config)
    workers = max(1, min(plan.config.jobs, len(plan.rows)))
    with sampled_cpu(stats):
        policy = RetryPolicy(plan.config.gateway_max_retries, plan.config.gateway_backoff_seconds,
                             plan.config.gateway_max_backoff_seconds, plan.config.gateway_upstream_timeout_seconds,
                             plan.config.gateway_max_reply_bytes)
        gateway = Gateway(Ledger(), policy).__enter__() if plan.model.calls_a_model else None
        try:
            ABORT.clear()
            if workers == 1:
                for row in plan.rows:
                    one_task(gateway, row)
            else:
                pool = ThreadPoolExecutor(max_workers=workers)
                try:
                    for future in [pool.submit(one_task, gateway, row) for row in plan.rows]:
                        future.result()
                except BaseException:
                    # Ctrl-C / SIGTERM reach this thread only: stop launching, end every attempt in flight
                    # (child and containers killed, no record), and wait until they have
                    stop.set("stopped: interrupted")
                    ABORT.set()
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
                pool.shutdown(wait=True)
        finally:
            if gateway is not None:
                gateway.__exit__(None, None, None)

    entry = summarize(plan, runner, started_at, stats, stop.reason)
    if stop.reason:
        log(f"{plan.model.id}: {stop.reason}")
    update_manifest(plan.run_id, lambda m: m["batches"].__setitem__(plan.model.id, _merge(m["batches"].get(plan.model.id), entry)))
    return entry


def _merge(previous: dict | None, entry: dict) -> dict:
    """On resume, keep the first start time and add up wall time across sessions."""
    if previous:
        entry["started_at"] = previous.get("started_at", entry["started_at"])
        entry["wall_seconds"] = round(previous.get("wall_seconds", 0) + entry["wall_seconds"], 2)
        entry["peak_cpu_percent"] = max(filter(None, [previous.get("peak_cpu_percent"), entry["peak_cpu_percent"]]), default=None)
        entry["sessions"] = previous.get("sessions", 1) + 1
    return entry


def summarize(plan: BatchPlan, runner: Runner, started_at: str, stats: dict, stop_reason: str | None) -> dict:
    """Build the batch's manifest entry and its predictions files from the attempt records."""
    attempts: dict[str, list[dict]] = {}
    by_index: dict[int, list[dict]] = {}
    complete = True
    for row in plan.rows:
        iid = row["instance_id"]
        attempts[iid] = []
        k_max, k_reason = plan.attempts_for(iid)
        for k in range(1, k_max + 1):
            out = attempt_dir(plan.run_id, plan.model, iid, k)
            rec = read_record(out)
            if rec is None:
                break
            rel = out.relative_to(run_dir(plan.run_id))
            attempts[iid].append({
                "attempt": k, "status": rec["status"], "exit_status": rec["exit_status"],
                "error_class": rec["error_class"], "duration_seconds": (round(rec["duration_seconds"], 2)
                                                                            if rec["duration_seconds"] is not None else None),
                "overhead_seconds": rec.get("overhead_seconds"),
                "usage": rec["usage"], "record": str(rel / RECORD),
                "trajectory": str(rel / rec["trajectory"]) if confined_file(out, rec["trajectory"]) else None,
                **({"k_reason": k_reason} if k_reason else {}),
            })
            by_index.setdefault(k, []).append({"instance_id": iid, "model_name_or_path": plan.model.id,
                                               "model_patch": rec["patch"], "attempt": k})
        if not _task_complete(plan, iid, attempts[iid]):
            complete = False
    for k, preds in by_index.items():
        path = predictions_path(plan.run_id, plan.model, k)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("".join(json.dumps(p) + "\n" for p in preds))
        os.replace(tmp, path)
    status = stop_reason or ("ok" if complete else "incomplete")
    return {
        "model": plan.model.public_dict(),
        "kind": "baseline" if plan.model.is_baseline else ("test-equipment" if plan.model.test_equipment else "model"),
        "runner": runner.name, "runner_version": runner.version(),
        **({"runner_images": runner.image_record()} if hasattr(runner, "image_record") else {}),
        "attempts_per_task": max(plan.attempts_for(r["instance_id"])[0] for r in plan.rows),
        "stop_after_resolved": plan.config.stop_after_resolved,
        "status": status, "started_at": started_at, "finished_at": utc_now(),
        "wall_seconds": stats.get("wall_seconds", 0.0),
        "peak_cpu_percent": stats.get("peak_cpu_percent"), "mean_cpu_percent": stats.get("mean_cpu_percent"),
        "predictions": str(predictions_path(plan.run_id, plan.model).relative_to(predictions_dir().parent)),
        "runner_config": plan.config.to_dict(),
        "attempts": attempts,
        "set_aside": set_aside_attempts(plan.run_id, plan.model),
    }


def _task_complete(plan: BatchPlan, iid: str, attempts: list[dict]) -> bool:
    """Done under the batch's policy: K attempts, or (stopping early) a resolved one; never with an
    infrastructure failure standing in for an attempt."""
    if not attempts or is_infra(agent_failure(attempts[-1]) or ""):
        return False
    k_max, _ = plan.attempts_for(iid)
    if len(attempts) >= k_max:
        return True
    if not plan.config.stop_after_resolved:
        return False
    last = run_dir(plan.run_id) / Path(attempts[-1]["record"]).parent
    verdict = read_verdict(last)
    return bool(verdict and verdict["verdict"] == "resolved")
