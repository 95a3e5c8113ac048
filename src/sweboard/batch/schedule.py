"""One batch's attempts in flight: a thread per task, attempts of a task in order, each waiting for its
slots, launched where the executor runs it, recorded, and graded before the next when the batch stops
at the first resolved attempt.

Why a probe first: until the provider has answered one call of this batch, its first calls go
upstream only as a serial run would make them (gateway.ProbeGate), so a retired model or a provider
that is down costs what it would cost run serially (the failure streak trips after the same
attempts), not `jobs` attempts' worth of failing calls. Meanwhile max(PRESTART, streak) attempts run:
the probing ones, and with one probe a next one with its container and agent up and its first call
held, ready the moment the probe is answered. More would hold job and provider slots that other
models' attempts could use, for nothing.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sweboard.batch.folders import set_aside, write_record
from sweboard.batch.plan import BatchPlan
from sweboard.coalesce import Coalescer
from sweboard.gateway import Gateway, ProbeGate, RetryPolicy
from sweboard.ledger import Ledger
from sweboard.outcomes import agent_failure, is_infra, needs_grading
from sweboard.records import RECORD, attempt_dir, load_record, read_verdict
from sweboard.runners.base import ABORT, GATEWAY_KEY, Attempt, AttemptResult, Runner, scrub_files
from sweboard.slots import Cancelled, capacity_for
from sweboard.manifest import utc_now

PRESTART = 2  # attempts of a batch running before its provider answered one call
PROVIDER_SIDE = ("provider_error", "rate_limited", "provider_timeout", "agent_error")


class Stop:
    """Why the batch stopped launching new attempts (first reason wins)."""

    def __init__(self):
        self.reason: str | None = None
        self._lock = threading.Lock()

    def set(self, reason: str) -> None:
        with self._lock:
            self.reason = self.reason or reason

    def __bool__(self) -> bool:
        return self.reason is not None


class AttemptSchedule:
    """The attempts of one batch, scheduled: `run()` runs every missing one and returns the stop reason."""

    def __init__(self, plan: BatchPlan, runner: Runner, key: str | None, secrets: list[str], log, executor):
        self.plan, self.runner, self.key, self.secrets, self.log, self.executor = (plan, runner, key, secrets, log,
                                                                                   executor)
        self.stop = Stop()
        self.failure_streak = 0  # attempts in a row whose calls never got an answer from the provider
        self.streak_lock = threading.Lock()
        self.t0 = time.monotonic()
        self.answered = threading.Event()
        self.gate = ProbeGate(self.answered, width=plan.config.provider_failure_streak)
        self.prestart = threading.Semaphore(max(PRESTART, plan.config.provider_failure_streak))
        self.grader = Coalescer(self.grade)  # attempts that end during a grading share the next harness run
        self.capacity = capacity_for(plan.config)

    # -- the whole batch ------------------------------------------------------------------------------
    def run(self) -> str | None:
        """Every task's missing attempts, a thread per task (what runs at once is capped by slots.py: jobs
        across the iteration's batches, the provider's max_concurrency, the CPU guardrail)."""
        config = self.plan.config
        policy = RetryPolicy(config.gateway_max_retries, config.gateway_backoff_seconds,
                             config.gateway_max_backoff_seconds, config.gateway_upstream_timeout_seconds,
                             config.gateway_max_reply_bytes)
        gateway = Gateway(Ledger(), policy).__enter__() if self.plan.model.calls_a_model else None
        try:
            ABORT.clear()
            self._all_tasks(gateway, max(1, min(config.jobs, len(self.plan.rows))))
        finally:
            if gateway is not None:
                gateway.__exit__(None, None, None)
        return self.stop.reason

    def _all_tasks(self, gateway: Gateway | None, workers: int) -> None:
        if workers == 1:
            for row in self.plan.rows:
                self.one_task(gateway, row)
            return
        pool = ThreadPoolExecutor(max_workers=workers)
        try:
            for future in [pool.submit(self.one_task, gateway, row) for row in self.plan.rows]:
                future.result()
        except BaseException:
            # Ctrl-C / SIGTERM reach this thread only: stop launching, end every attempt in flight
            # (child and containers killed, no record), and wait until they have
            self.stop.set("stopped: interrupted")
            ABORT.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)

    def stopping(self) -> bool:
        """No new attempt: the batch stopped, or its wall-clock budget is spent (checked again after any wait)."""
        budget = self.plan.config.model_budget_seconds
        if not self.stop and time.monotonic() - self.t0 > budget:
            self.stop.set(f"stopped: per-model wall-clock budget of {budget:g}s reached; --resume continues")
            self.gate.stop()
        return bool(self.stop)

    # -- one task: its attempts in order --------------------------------------------------------------
    def one_task(self, gateway: Gateway | None, row: dict) -> None:
        iid = row["instance_id"]
        k_max, _ = self.plan.attempts_for(iid)
        for k in range(1, k_max + 1):
            out = attempt_dir(self.plan.run_id, self.plan.model, iid, k)
            record = self.recorded(out)
            if record is None:
                if self.stopping():
                    return
                record = self.one_attempt(gateway, row, k)
                if record is None or is_infra(agent_failure(record) or ""):
                    return  # nothing ran, or infrastructure failed it: the row says incomplete until --resume
            if not self.plan.config.stop_after_resolved or k == k_max or not needs_grading(record):
                continue
            verdict = self.verdict_of(iid, k, out, record)
            if verdict is None or verdict["verdict"] == "resolved":
                return  # resolved; or the evaluator failed and whether k+1 is needed is unknown (left open)

    def recorded(self, out) -> dict | None:
        """The attempt's record from an earlier session, or None to run it (a damaged record, or one whose
        infrastructure failed, is set aside first)."""
        record, problem = load_record(out)
        if problem:
            aside = set_aside(out, "damaged", self.secrets)
            self.log(f"  {out / RECORD}: damaged ({problem}); set aside as {aside.name if aside else '?'}, "
                     "the attempt runs again")
        if record is not None and is_infra(agent_failure(record) or ""):
            set_aside(out, "infra", self.secrets)  # failed by infrastructure in an earlier session: run it again
            return None
        return record

    def verdict_of(self, iid: str, k: int, out, record: dict) -> dict | None:
        """The attempt's verdict, grading it now if it has none (one more try after an evaluator failure)."""
        verdict = read_verdict(out)
        for _ in range(2):
            if verdict is not None:
                break
            verdict = self.grader.submit((iid, k, out, record["patch"]), (iid, k))
        return verdict

    def grade(self, items: list) -> dict:
        from sweboard.evaluation import evaluate_attempts

        return evaluate_attempts(self.plan.run_id, self.plan.model.id, items, in_batch=True, executor=self.executor,
                                 log=self.log)

    # -- one attempt: its turn, then its run ----------------------------------------------------------
    def one_attempt(self, gateway: Gateway | None, row: dict, k: int) -> dict | None:
        if self.plan.model.is_baseline:  # no container, no call: nothing to queue for
            return self.launch(gateway, row, k, 0.0)
        provider = self.plan.model.provider if self.plan.model.calls_a_model else None
        early = provider is not None and self._prestart()
        if early is None:
            return None
        try:
            # a probe (its provider has not answered this batch yet) goes before other waiters, then first
            # attempts before second ones (slots.SlotPool.hold)
            with self.capacity.attempt(provider, cancelled=lambda: bool(self.stop) or ABORT.is_set(), log=self.log,
                                       cpu_guard=self.executor.guards_cpu and self.plan.run_kind != "canary",
                                       rank=0 if early else k) as queued:
                if self.stopping():  # the batch stopped (or ran out of time) while this attempt waited its turn
                    return None
                return self.launch(gateway, row, k, queued)
        except Cancelled:
            return None  # the batch stopped while this attempt waited for a slot: nothing ran
        finally:
            if early:
                self.prestart.release()

    def _prestart(self) -> bool | None:
        """Before the provider answered: wait for one of the PRESTART places (True), or go as usual once it
        has answered (False); None when the batch stopped meanwhile."""
        while not self.answered.is_set():
            if self.stop:
                return None
            if self.prestart.acquire(timeout=0.2):
                return True
        return False

    def launch(self, gateway: Gateway | None, row: dict, k: int, queued: float) -> dict | None:
        """Run the attempt where the executor runs it; its record, or None when nothing of the model's ran."""
        plan, iid = self.plan, row["instance_id"]
        row = plan.agent_row(row)  # its sanitized image, when the task's own leaks its fix (history: sanitize)
        ran_from = time.time()
        out = attempt_dir(plan.run_id, plan.model, iid, k)
        set_aside(out, secrets=self.secrets)
        out.mkdir(parents=True, exist_ok=True)
        timeout, timeout_reason = plan.config.timeout_for(plan.model.id, iid)
        base_url, route = None, None
        if gateway is not None:  # the attempt's clock starts at the agent's first call
            base_url, route = gateway.register(plan.model, self.key, out / "calls.jsonl", plan.config.max_tokens,
                                               secrets=self.secrets, budget_seconds=timeout + 2,
                                               answered=self.answered, gate=self.gate)
        attempt = Attempt(plan.run_id, plan.model, row, k, plan.config.seed + k - 1, timeout, out, plan.config,
                          base_url, started=route.first_call if route is not None else None,
                          reached=route.reached if route is not None else None)
        began = utc_now()
        try:  # here, or on a worker node; never on an image that leaks its fix (history: strict)
            result, node = (self.executor.run(attempt, self.runner, GATEWAY_KEY if gateway else None, self.secrets)
                            if iid not in plan.blocked else
                            (AttemptResult("error", "ImageLeaks", "", "infra", plan.blocked[iid][:800], 0.0), None))
        finally:
            if gateway is not None:
                gateway.unregister(base_url)  # ends in-flight calls; returns once their records are written
            scrub_files(out, self.secrets)  # every exit path: done, error, Ctrl-C, SIGTERM
        if not self._counts(route):
            return None
        record = write_record(plan, self.runner, out, row, k, attempt.seed, timeout, timeout_reason, began, result,
                              self.secrets, self.log, queued, ran_from, node)
        self.after(record, result, route)
        return record

    def _counts(self, route) -> bool:
        """Whether the attempt is one (False: a budget refused it, or its first call was held until the batch
        stopped; no record, so a later --resume runs it again)."""
        if route is not None and route.exhausted:
            self.stop.set(f"stopped: {route.exhausted}; --resume continues once the budget allows")
            self.gate.stop()
            return False
        if route is not None and route.refused and not route.answered.is_set():
            self.gate.done(route, self.failure_streak)
            return False
        return True

    def after(self, record: dict, result, route) -> None:
        """What a recorded attempt says about the provider: a 404 skips the model, a streak of attempts
        without one answered call skips the provider; the probe gate learns the streak."""
        if result.error_class == "model_unavailable":
            self.stop.set("skipped: model unavailable (provider answered 404 / unknown model)")
        usage = record["usage"] or {"model_calls": 0, "failed_calls": 0}
        no_answer = usage["model_calls"] == usage["failed_calls"]  # not one answered call (hangs included)
        with self.streak_lock:
            provider_side = agent_failure(record) in PROVIDER_SIDE
            self.failure_streak = self.failure_streak + 1 if (provider_side and no_answer) else 0
            if self.failure_streak >= self.plan.config.provider_failure_streak:
                self.stop.set(f"skipped: provider failing ({self.failure_streak} attempts in a row without one "
                              f"successful call; last: {result.error_class})")
        if self.stop:
            self.gate.stop()  # every first call still held is refused: those attempts leave no record
        if route is not None:
            self.gate.done(route, self.failure_streak)  # counted: a probe that got no answer lets the next call go
