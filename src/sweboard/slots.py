"""Capacity shared by processes: job slots, provider slots, evaluator slots, and the CPU guardrail.

Why files: the models of an iteration run as separate batch processes (`scheduler.py`), so a
thread semaphore cannot cap them together. A slot is a file held with `flock`; the kernel lets
go of it when its holder dies (kill -9 included), so a crashed batch never leaks capacity and
nothing has to be cleaned up.

Three pools, each `N` files `slot-0 … slot-(N-1)` in one folder:
- `jobs`: agent attempts of the scheduler's run at once (the plan's "jobs up to eight");
- `evaluator`: official-evaluator invocations at once (the plan's evaluator workers);
- `provider-<name>`: calls of one provider's attempts at once, machine-wide (its account's limit),
  from the catalog's `max_concurrency`.
A slot is taken only when the machine is under `cpu_ceiling_percent` (the plan's 80 % guardrail):
no new attempt or evaluation starts on a saturated machine; what already runs is never paused.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import tempfile
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sweboard.locks import NOTICE_SECONDS, open_private, private_dir
from sweboard.manifest import cpu_times
from sweboard.paths import cache_dir
from sweboard.processes import alive

SLOTS_ENV = "SWEBOARD_SLOTS"  # the scheduler's pool folder, shared by its batches
POLL_SECONDS = 0.1
_TOLD: set[str] = set()  # pools whose wait was already reported by this process


POOL_PREFIX = "sweboard-slots-"


def private_pool_dir() -> Path:
    """A new pool folder for this process (0700, named by its PID); pools of processes that died
    without cleaning up (kill -9) are removed first."""
    base = Path(tempfile.gettempdir())
    for old in base.glob(f"{POOL_PREFIX}*-*"):
        pid = old.name[len(POOL_PREFIX):].split("-", 1)[0]
        try:
            mine = old.stat().st_uid == os.getuid()
        except OSError:
            continue
        if mine and pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{POOL_PREFIX}{os.getpid()}-"))


class SlotPool:
    """`size` slots in `directory`; `hold()` blocks until one is free (or `cancelled()` says stop)."""

    def __init__(self, directory: Path, size: int):
        self.directory = Path(directory)
        self.size = max(1, int(size))
        private_dir(self.directory)  # 0700: no other user can open a slot file and hold it

    def try_take(self):
        """A held slot's open descriptor, or None when all are taken."""
        for i in range(self.size):
            fd = open_private(self.directory / f"slot-{i}")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                os.close(fd)
        return None

    @contextmanager
    def hold(self, cancelled=lambda: False, log=None, rank: int | None = None):
        """Hold a slot. Waiters with a `rank` go before waiters with a higher one or none: a batch's
        probes (rank 0: the quicker the provider's answer or failure is known, the sooner the rest
        of that batch runs or stops), then attempts by index (rank k: a task's first attempt before
        another's second, so the longest possible chains start first). A waiter that waits behind
        other models' shorter work lengthens the run's critical path by its whole wait. While it
        waits, a ranked waiter holds a marker file (flock, released by the kernel when its holder
        dies) that lower-ranked waiters give way to."""
        began = time.monotonic()
        marker = self._mark(rank) if rank is not None else None
        try:
            while True:
                fd = None if self._ahead(rank) else self.try_take()
                if fd is not None:
                    break
                if cancelled():
                    raise Cancelled()
                if log and str(self.directory) not in _TOLD and time.monotonic() - began > NOTICE_SECONDS:
                    _TOLD.add(str(self.directory))  # once per pool and process: waiting for capacity is normal
                    log(f"  waiting for a free slot of {self.directory.name} ({self.size} in use)")
                time.sleep(POLL_SECONDS)
        finally:
            if marker is not None:
                marker.close()
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _mark(self, rank: int) -> "_Marker":
        """A held marker `waiting/r<rank>-…`: locked under a name `_ahead` ignores, then renamed, so no
        other waiter can find it unlocked (and remove it as a dead waiter's) while it is made."""
        folder = private_dir(self.directory / "waiting")
        unique = f"{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}"
        making = folder / f"new-{unique}"
        fd = os.open(making, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        path = folder / f"r{max(0, rank):06d}-{unique}"
        os.rename(making, path)
        return _Marker(fd, path)

    def _ahead(self, rank: int | None) -> bool:
        """Does a live waiter of a lower rank than `rank` (any rank, for None) wait for this pool?
        Markers of dead waiters (kill -9) are not locked: they are removed as litter."""
        folder = self.directory / "waiting"
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return False
        for name in names:
            theirs = name[1:7]
            if not theirs.isdigit() or (rank is not None and int(theirs) >= rank):
                continue
            try:
                fd = os.open(folder / name, os.O_RDONLY | os.O_NOFOLLOW)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            finally:
                os.close(fd)
            try:
                os.unlink(folder / name)
            except OSError:
                pass
        return False

    def busy(self) -> int:
        """How many slots are held right now (for progress and tests)."""
        n = 0
        for i in range(self.size):
            path = self.directory / f"slot-{i}"
            if not path.exists():
                continue
            fd = open_private(path)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_UN)
            except BlockingIOError:
                n += 1
            finally:
                os.close(fd)
        return n


class _Marker:
    """A waiter's held marker file; `close()` removes it and lets go."""

    def __init__(self, fd: int, path: Path):
        self.fd, self.path = fd, path

    def close(self) -> None:
        try:
            os.unlink(self.path)
        except OSError:
            pass
        os.close(self.fd)


class Cancelled(Exception):
    """The caller stopped waiting for a slot (its batch is stopping)."""


class CpuGate:
    """Whole-machine CPU over the last `window` seconds; `wait_below(ceiling)` blocks while above it.

    One sampler per process, read by all its threads. Waiting time is counted so the run can
    report how long the guardrail held work back."""

    def __init__(self, window: float = 1.0):
        self.window = window
        self._lock = threading.Lock()
        self._last: tuple[float, int, int] | None = None  # (monotonic, total, idle) of the previous reading
        self._value: float | None = None
        self.waited_seconds = 0.0
        self.told_at = float("-inf")  # when the last "new work waits" notice was given

    def percent(self) -> float | None:
        """Busy % since the previous reading, refreshed at most every `window` seconds."""
        with self._lock:
            now = time.monotonic()
            if self._last is not None and now - self._last[0] < self.window:
                return self._value
            try:
                total, idle = cpu_times()
            except OSError:
                return None
            if self._last is not None and total > self._last[1]:
                self._value = round(100.0 * (1 - (idle - self._last[2]) / (total - self._last[1])), 1)
            self._last = (now, total, idle)
            return self._value

    def wait_below(self, ceiling: float, cancelled=lambda: False, log=None) -> float:
        """Block until the machine is at or under `ceiling` %; returns the seconds waited."""
        began, told = time.monotonic(), False
        while True:
            value = self.percent()
            if value is None or value <= ceiling or ceiling >= 100:
                break
            if cancelled():
                raise Cancelled()
            if log and not told and time.monotonic() - began > 5:
                told = True
                with self._lock:  # one notice a minute for the whole process, however many attempts wait
                    say = time.monotonic() - self.told_at >= NOTICE_EVERY
                    if say:
                        self.told_at = time.monotonic()
                if say:
                    log(f"  CPU at {value:.0f}% (ceiling {ceiling:g}%): new work waits")
            time.sleep(min(0.25, self.window))
        waited = time.monotonic() - began
        with self._lock:
            self.waited_seconds += waited
        return waited


NOTICE_EVERY = 60.0  # seconds between "CPU at ...: new work waits" notices of one process

_GATE = CpuGate()


@dataclass(frozen=True)
class Capacity:
    """Where this process takes its slots, and how many there are."""

    directory: Path  # the scheduler's pool folder (or this batch's own when run alone)
    jobs: int  # agent attempts at once across the scheduler's batches
    evaluator_workers: int  # evaluator invocations at once
    cpu_ceiling_percent: float  # no new attempt or evaluation above this machine-wide CPU %

    @classmethod
    def from_config(cls, config) -> "Capacity":
        """From a RunnerConfig or a manifest's `runner_config` (runs made before these settings get defaults)."""
        get = _getter(config)
        env = os.environ.get(SLOTS_ENV)
        if env:
            directory = Path(env)
        else:  # a batch run alone: its own pool, gone with the process
            directory = private_pool_dir()
            atexit.register(shutil.rmtree, directory, True)
        return cls(directory, int(get("jobs", 8)), int(get("evaluator_workers", 4)),
                   float(get("cpu_ceiling_percent", 80.0)))

    def jobs_pool(self) -> SlotPool:
        return SlotPool(self.directory / "jobs", self.jobs)

    def evaluator_pool(self) -> SlotPool:
        return SlotPool(self.directory / "evaluator", self.evaluator_workers)

    @staticmethod
    def provider_pool(provider) -> SlotPool:
        """Machine-wide: two runs against one provider share its account's concurrency."""
        return SlotPool(cache_dir() / "slots" / f"provider-{provider.name}", provider.max_concurrency)

    @contextmanager
    def attempt(self, provider=None, cancelled=lambda: False, log=None, cpu_guard: bool = True,
                rank: int | None = None):
        """Hold a provider slot (if it calls one), then a job slot, then pass the CPU guardrail
        (`cpu_guard=False` when the attempt runs on another machine: this one's CPU is not its own).
        `rank`: its place among waiters for both slots (`SlotPool.hold`: probes 0, then attempt k).

        Always in that order, so no two holders can wait on each other. Yields the seconds waited."""
        began = time.monotonic()
        with ExitStack() as stack:
            if provider is not None:
                stack.enter_context(self.provider_pool(provider).hold(cancelled, log, rank))
            stack.enter_context(self.jobs_pool().hold(cancelled, log, rank))
            if cpu_guard:
                _GATE.wait_below(self.cpu_ceiling_percent, cancelled, log)
            yield round(time.monotonic() - began, 3)

    @contextmanager
    def evaluation(self, log=None, cpu_guard: bool = True):
        """An evaluator slot, then the CPU guardrail (`cpu_guard=False` for the evaluator canary: a
        few seconds of gold and empty patches that every run waits on before its first attempt)."""
        began = time.monotonic()
        with self.evaluator_pool().hold(log=log):
            if cpu_guard:
                _GATE.wait_below(self.cpu_ceiling_percent, log=log)
            yield round(time.monotonic() - began, 3)


def capacity_for(config) -> Capacity:
    """This process's capacity: one pool folder per process (the scheduler's, shared, when it set one)."""
    global _CAPACITY
    wanted = Capacity.from_config(config) if os.environ.get(SLOTS_ENV) else None
    with _capacity_lock:
        if wanted is None:
            get = _getter(config)
            if _CAPACITY is None or (_CAPACITY.jobs, _CAPACITY.evaluator_workers) != (
                    int(get("jobs", 8)), int(get("evaluator_workers", 4))):
                _CAPACITY = Capacity.from_config(config)
            return _CAPACITY
        return wanted


def _getter(config):
    """Settings of a RunnerConfig or of a manifest's `runner_config` dict, alike."""
    return config.get if isinstance(config, dict) else (lambda key, default: getattr(config, key, default))


_CAPACITY: Capacity | None = None
_capacity_lock = threading.Lock()
