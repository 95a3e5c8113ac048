"""One attempt's route through the gateway, the retry policy, and the probe gate of a batch."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sweboard.catalog import ModelEntry


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    upstream_timeout: float = 300.0  # never more than the attempt's remaining time
    max_reply_bytes: int = 8 * 1024 * 1024  # a larger upstream reply is refused (502), not passed on

    def delay(self, retry: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                value = float(retry_after)
                if math.isfinite(value):
                    return min(self.max_delay, max(0.0, value))
            except ValueError:
                pass
        return min(self.max_delay, self.base_delay * 2 ** retry)


@dataclass
class Route:
    """One attempt's route: where its calls go, with which key, where they are recorded, until when."""

    model: ModelEntry
    api_key: str | None
    calls_file: Path
    max_tokens: int
    deadline: float | None = None  # time.monotonic() at which the attempt's wall clock runs out
    secrets: tuple[str, ...] = ()
    budget_seconds: float | None = None  # the attempt's clock: it starts at the agent's first call
    first_call: threading.Event = field(default_factory=threading.Event)
    exhausted: str | None = None  # set when a budget (ours or the provider's quota) refused a call
    answered: threading.Event = field(default_factory=threading.Event)  # set at the first call the provider answered (200)
    gate: "ProbeGate | None" = None  # the batch's probe: first calls wait here until the provider answered one
    reached: threading.Event = field(default_factory=threading.Event)  # the agent's first request arrived (start-up over)
    refused: str | None = None  # its held first call was refused: the batch stopped while it waited
    calls: int = 0
    closed: threading.Event = field(default_factory=threading.Event)
    inflight: int = 0
    connections: set = field(default_factory=set)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def scrub(self, data: bytes) -> bytes:
        for value in self.secrets:
            data = data.replace(value.encode(), b"***")
        return data


class ProbeGate:
    """Until the provider has answered one call of a batch, its first calls go upstream only as a
    serial run would make them.

    Why a gate on calls, not on attempts: every attempt may start its container and agent while
    the first call (the probe) is in flight; only their first calls wait. A retired model or a
    failing provider still costs what it would serially:
    - one probe at first; a retired model's 404 stops the batch before a second call is made;
    - once every probe in flight has failed in a way the gateway retries (5xx, 429, a timeout: not
      a refusal of the model), a serial run would go on to the next attempt whatever that probe's
      end, until the failure streak trips — so up to `width - streak` probes (`width` is the
      batch's `provider_failure_streak`, `streak` its attempts in a row without an answer so far)
      go at once, and a down provider trips the streak in one probe's time, not `width` of them;
    - a probe that was not answered keeps its place until its batch has recorded the attempt
      (`done`), so the streak is counted before the next call goes; when the batch stops, every
      held call is refused (`stop`).
    """

    def __init__(self, answered: threading.Event, width: int = 1):
        self.answered = answered
        self.width = max(1, width)
        self._cv = threading.Condition()
        self._holders: dict[int, list] = {}  # id(route) -> [route, seen failing in a way the gateway retries]
        self._limit = self.width
        self.stopped = threading.Event()

    def enter(self, route: Route) -> bool:
        """Wait for this call's turn; False when the batch stopped (or the attempt ended) meanwhile."""
        with self._cv:
            while not self.answered.is_set():
                if self.stopped.is_set() or route.closed.is_set():
                    return False
                if id(route) in self._holders:
                    return True  # the probing attempt's own next calls (retried by its agent)
                if not self._holders or (len(self._holders) < self._limit
                                         and all(retried for _, retried in self._holders.values())):
                    self._holders[id(route)] = [route, False]
                    return True
                self._cv.wait(0.2)
            return True

    def retrying(self, route: Route) -> None:
        """The gateway will retry this probe's call: a failure a serial run meets too; more may go."""
        with self._cv:
            if id(route) in self._holders:
                self._holders[id(route)][1] = True
                self._cv.notify_all()

    def after_call(self, route: Route) -> None:
        """The probe was answered: everyone goes (`answered` lets the rest pass)."""
        if self.answered.is_set():
            with self._cv:
                self._holders.clear()
                self._cv.notify_all()

    def done(self, route: Route, streak: int = 0) -> None:
        """The batch recorded this attempt (`streak`: its attempts in a row without an answer, now):
        a probe that never got an answer frees its place for the next."""
        with self._cv:
            self._holders.pop(id(route), None)
            self._limit = max(1, self.width - streak)
            self._cv.notify_all()

    def stop(self) -> None:
        self.stopped.set()
        with self._cv:
            self._cv.notify_all()
