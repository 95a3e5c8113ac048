"""The iteration's models at once: one batch process per model, sharing the run's capacity.

`batch.py` stays one model's orchestrator; this module only starts batches side by side and
watches them. What runs at once is decided by the slots the batches share (`slots.py`): the
scheduler makes a fresh pool folder, hands it to every batch (`SWEBOARD_SLOTS`), and the
batches take a job slot per attempt (plus their provider's slot and the CPU guardrail) and an
evaluator slot per grading. So `jobs` is one cap across all models, a provider's
`max_concurrency` holds machine-wide, and a model that waits on a slow provider leaves the
slots to the others.

With `jobs=1` the batches run one after another, exactly as a serial driver would; that is
the reference the same board must come out of (`tools/benchmark_pipeline.py`).

Why processes, not threads: a batch already is a process with its own gateway, ledger
reservations, Ctrl-C handling and resume semantics; running it unchanged keeps those
guarantees. Each batch dies with the scheduler (PR_SET_PDEATHSIG), and its agents with it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sweboard.records import RECORD, VERDICT
from sweboard.runners.base import die_with_parent
from sweboard.slots import SLOTS_ENV, private_pool_dir



@dataclass
class BatchProcess:
    model: str
    slug: str
    command: list[str]
    proc: subprocess.Popen | None = None
    code: int | None = None
    started: float | None = None
    ended: float | None = None
    lines: list[str] = field(default_factory=list)
    instant: bool = False  # the no-patch baseline: its tasks finish at once and would skew the ETA


@dataclass
class Progress:
    """What is known from the attempt folders on disk (the batches' own source of truth)."""

    attempts_done: int = 0
    attempts_bound: int = 0  # upper bound: tasks x K (fewer run when an attempt resolves the task)
    tasks_done: int = 0
    tasks: int = 0
    models_done: int = 0
    models: int = 0
    running: int = 0
    timed_done: int = 0  # tasks of batches that take time (not the instant baseline): what the ETA rests on
    timed_tasks: int = 0
    working: float | None = None  # seconds since the first attempt started: preflight and image work excluded

    def line(self, elapsed: float) -> str:
        """The line; the ETA rests on the time attempts have been running (`working`), never on the
        preflight, image pulls and canaries before the first attempt (which would inflate it)."""
        eta = ""
        clock = elapsed if self.working is None else self.working
        if 0 < self.timed_done < self.timed_tasks and clock > 0:
            eta = f", ETA {_clock(clock * (self.timed_tasks - self.timed_done) / self.timed_done)}"
        return (f"tasks {self.tasks_done}/{self.tasks} · attempts {self.attempts_done} (of at most "
                f"{self.attempts_bound}) · models {self.models_done}/{self.models} done, {self.running} running · "
                f"{_clock(elapsed)} elapsed{eta}")


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def task_state(task_dir: Path, k_max: int) -> tuple[int, bool]:
    """(attempts recorded, task done) for one model x task folder: done at K records, or at a
    resolved verdict on the last recorded attempt (the batch stops there)."""
    done, last = 0, None
    for k in range(1, k_max + 1):
        d = task_dir / f"attempt-{k}"
        if not (d / RECORD).is_file():
            break
        done, last = k, d
    if done >= k_max:
        return done, True
    if last is not None and (last / VERDICT).is_file():
        try:
            return done, json.loads((last / VERDICT).read_text()).get("verdict") == "resolved"
        except (OSError, ValueError):
            pass
    return done, False


MEASURE_SHARE = 100  # the progress poll waits at least this many times its own cost: under 1 % of a core


def next_measure(now: float, cost: float, poll: float) -> float:
    """When to count progress again. Why: one count stats every unfinished model x task folder, so
    its cost grows with the run; counting every `poll` seconds through a 56-hour run would spend
    hours of the controller's CPU on a progress line. Waiting `MEASURE_SHARE` times the count's own
    cost keeps it under 1 % of one core at any size (0.5 s between counts on a small run)."""
    return now + max(poll, MEASURE_SHARE * cost)


def measure(run_root: Path, batches: list[BatchProcess], instance_ids: list[str], k_for,
            final: dict | None = None) -> Progress:
    """Count the run's progress from its folders. `final` (kept by the caller across counts) holds
    the tasks whose state can no longer change (all K attempts recorded, or their batch has exited;
    records are immutable), so each is read once, not at every count. A task resolved early is
    re-read until its batch exits: with `--all-attempts` its later attempts still come."""
    p = Progress(tasks=len(batches) * len(instance_ids), models=len(batches))
    for b in batches:
        k_max = k_for(b.model)
        p.attempts_bound += k_max * len(instance_ids)
        finished = b.code is not None
        p.models_done += finished
        p.running += b.proc is not None and not finished
        p.timed_tasks += 0 if b.instant else len(instance_ids)
        for iid in instance_ids:
            state = None if final is None else final.get((b.slug, iid))
            if state is None:
                state = task_state(run_root / "attempts" / b.slug / iid, k_max)
                if final is not None and (state[0] >= k_max or finished):
                    final[(b.slug, iid)] = state
            n, done = state
            p.attempts_done += n
            p.tasks_done += done or finished
            p.timed_done += 0 if b.instant else (done or finished)
    return p


def attempts_started(run_root: Path, batches: list[BatchProcess]) -> bool:
    """Whether any batch has begun an attempt (an attempt folder exists under its model's folder)."""
    for b in batches:
        folder = run_root / "attempts" / b.slug
        if folder.is_dir() and any(folder.glob("*/attempt-1")):
            return True
    return False


def _columns(stream) -> int:
    """The terminal's width, 0 when it reports none (a bar there would draw nothing at all)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 0


class ProgressLine:
    """One overall progress line: a tqdm bar on a terminal, a plain line every `every` seconds otherwise."""

    def __init__(self, total: int, stream=None, every: float = 15.0):
        self.stream = stream or sys.stderr
        self.every = every
        self.tty = self.stream.isatty() and _columns(self.stream) >= 40  # 0 columns (some CI, `script`): plain lines
        self.bar = None
        self._last_plain = 0.0
        self._last_text = ""
        if self.tty:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="task", file=self.stream, dynamic_ncols=True,
                            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} tasks [{elapsed}<{remaining}]{postfix}")

    def update(self, progress: Progress, elapsed: float, force: bool = False) -> None:
        if self.bar is not None:
            self.bar.n = progress.tasks_done
            self.bar.set_postfix_str(f"attempts {progress.attempts_done}/≤{progress.attempts_bound}, models "
                                     f"{progress.models_done}/{progress.models} done, {progress.running} running",
                                     refresh=True)
            return
        text = progress.line(elapsed)
        now = time.monotonic()
        if force or (text != self._last_text and now - self._last_plain >= self.every):
            print(f"progress: {text}", file=self.stream, flush=True)
            self._last_plain, self._last_text = now, text

    def write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=sys.stdout, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _pump(b: BatchProcess, out: ProgressLine, lock: threading.Lock) -> None:
    """Each batch's own lines, prefixed with its model, above the progress line."""
    assert b.proc is not None and b.proc.stdout is not None
    for raw in b.proc.stdout:
        line = raw.rstrip("\n")
        b.lines.append(line)
        with lock:
            out.write(f"[{b.model}] {line}")


def run_batches(batches: list[BatchProcess], jobs: int, run_root: Path, instance_ids: list[str], k_for,
                env: dict | None = None, stream=None, poll: float = 0.5) -> list[BatchProcess]:
    """Run the batches, at most `jobs` processes at once (all of them when jobs >= their number), sharing one
    slot pool; returns them with their exit codes. Ctrl-C / SIGTERM stop every batch the same way (each
    records `stopped: interrupted` and scrubs its attempt folders) and are re-raised once they have."""
    pool_dir = private_pool_dir()
    env = {**(env or os.environ), SLOTS_ENV: str(pool_dir), "PYTHONUNBUFFERED": "1"}
    at_once = max(1, min(jobs, len(batches)))
    out = ProgressLine(len(batches) * len(instance_ids), stream)
    lock = threading.Lock()
    pumps: list[threading.Thread] = []
    t0 = time.monotonic()
    first_attempt = None
    final: dict = {}  # tasks whose state can no longer change, read once (see `measure`)
    due = 0.0  # when progress is next counted (see `next_measure`)
    waiting = list(batches)
    try:
        while waiting or any(b.code is None and b.proc is not None for b in batches):
            running = [b for b in batches if b.proc is not None and b.code is None]
            while waiting and len(running) < at_once:
                b = waiting.pop(0)
                b.proc = subprocess.Popen(b.command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, text=True, bufsize=1,
                                          preexec_fn=die_with_parent)
                b.started = time.monotonic()
                t = threading.Thread(target=_pump, args=(b, out, lock), daemon=True)
                t.start()
                pumps.append(t)
                running.append(b)
            for b in running:
                code = b.proc.poll()
                if code is not None:
                    b.code, b.ended = code, time.monotonic()
            if time.monotonic() >= due:
                counted = time.monotonic()
                progress = measure(run_root, batches, instance_ids, k_for, final)
                if first_attempt is None and attempts_started(run_root, batches):
                    first_attempt = time.monotonic()
                progress.working = None if first_attempt is None else time.monotonic() - first_attempt
                with lock:
                    out.update(progress, time.monotonic() - t0)
                due = next_measure(time.monotonic(), time.monotonic() - counted, poll)
            time.sleep(poll)
        for t in pumps:
            t.join(timeout=5)
        with lock:
            out.update(measure(run_root, batches, instance_ids, k_for, final), time.monotonic() - t0, force=True)
    except BaseException:  # Ctrl-C or SIGTERM: every batch stops as it would alone, then we go
        for b in batches:
            if b.proc is not None and b.proc.poll() is None:
                b.proc.send_signal(signal.SIGTERM)
        for b in batches:
            if b.proc is not None:
                try:
                    b.code = b.proc.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    b.proc.kill()
                    b.code = b.proc.wait()
        raise
    finally:
        out.close()
        shutil.rmtree(pool_dir, ignore_errors=True)
    return batches
