"""Shared capacity (slots.py): caps hold across processes, a killed holder frees its slot, the CPU
guardrail holds new work back and never what runs, and a stopping batch stops waiting."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import max_overlap, wait_for

from sweboard import slots
from sweboard.runconfig import load_runner_config

HOLDER = """
import json, sys, time
from sweboard.slots import SlotPool
pool = SlotPool(sys.argv[1], int(sys.argv[2]))
with pool.hold():
    began = time.time()
    time.sleep(float(sys.argv[3]))
    print(json.dumps([began, time.time()]), flush=True)
"""



def test_a_pool_caps_holders_across_processes(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "pool"), "2", "0.6"],
                              stdout=subprocess.PIPE, text=True) for _ in range(5)]
    spans = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert max_overlap(spans) == 2  # five processes, never more than two inside, and two did run together


def test_a_killed_holder_frees_its_slot(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "pool"), "1", "600"],
                              stdout=subprocess.PIPE, text=True)
    pool = slots.SlotPool(tmp_path / "pool", 1)
    deadline = time.monotonic() + 30
    while pool.busy() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool.busy() == 1 and pool.try_take() is None
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with pool.hold():  # the kernel let go of the dead holder's lock: no clean-up needed
        assert pool.busy() == 1


def test_the_cpu_guardrail_waits_while_the_machine_is_busy(monkeypatch):
    gate = slots.CpuGate(window=0.01)
    readings = iter([97.0, 95.0, 85.0, 60.0])
    monkeypatch.setattr(gate, "percent", lambda: next(readings))
    waited = gate.wait_below(80)
    assert waited > 0 and gate.waited_seconds == waited
    with pytest.raises(StopIteration):
        gate.percent()  # it read until the machine was under the ceiling, and no further
    monkeypatch.setattr(gate, "percent", lambda: 100.0)
    assert gate.wait_below(100) < 0.05  # a ceiling of 100 % never holds work back
    with pytest.raises(slots.Cancelled):
        gate.wait_below(50, cancelled=lambda: True)


def test_a_stopping_batch_stops_waiting_for_a_slot(tmp_path, home, monkeypatch):
    monkeypatch.setenv(slots.SLOTS_ENV, str(tmp_path / "pool"))
    capacity = slots.capacity_for(load_runner_config(overrides={"jobs": 1, "cpu_ceiling_percent": 100}))
    with capacity.attempt():
        with pytest.raises(slots.Cancelled):
            with capacity.attempt(cancelled=lambda: True):
                pass
    with capacity.attempt() as queued:  # free again
        assert queued < 1


def test_capacity_is_not_part_of_the_experiment(home):
    from sweboard.runconfig import config_differences
    from sweboard.runconfig import CAPACITY_SETTINGS

    a = load_runner_config().to_dict()
    b = load_runner_config(overrides={"jobs": 1, "evaluator_workers": 2, "cpu_ceiling_percent": 50}).to_dict()
    assert config_differences(a, b) == ["cpu_ceiling_percent", "evaluator_workers", "jobs"]
    assert config_differences(a, b, ignore=CAPACITY_SETTINGS) == []  # a resume may change how much runs at once
    old = {k: v for k, v in a.items() if k not in ("jobs", "cpu_ceiling_percent")} | {"workers": 1}
    assert config_differences(old, a, ignore=CAPACITY_SETTINGS) == []  # runs made before these settings resume


def test_progress_counts_tasks_done_by_k_records_or_a_resolved_verdict(tmp_path):
    from sweboard.scheduler import task_state

    task = tmp_path / "t"
    assert task_state(task, 2) == (0, False)
    (task / "attempt-1").mkdir(parents=True)
    (task / "attempt-1" / "record.json").write_text("{}")
    assert task_state(task, 2) == (1, False)
    (task / "attempt-1" / "verdict.json").write_text(json.dumps({"verdict": "resolved"}))
    assert task_state(task, 2) == (1, True)
    (task / "attempt-1.interrupted-1").mkdir()  # set aside: not an attempt
    (task / "attempt-1" / "verdict.json").write_text(json.dumps({"verdict": "unresolved"}))
    assert task_state(task, 2) == (1, False)
    (task / "attempt-2").mkdir()
    (task / "attempt-2" / "record.json").write_text("{}")
    assert task_state(task, 2) == (2, True)


def _record(task: Path, k: int, verdict: str | None = None) -> None:
    (task / f"attempt-{k}").mkdir(parents=True)
    (task / f"attempt-{k}" / "record.json").write_text("{}")
    if verdict:
        (task / f"attempt-{k}" / "verdict.json").write_text(json.dumps({"verdict": verdict}))


def test_progress_reads_a_task_once_its_state_is_final_and_keeps_counting_early_resolved_ones(tmp_path):
    from sweboard.scheduler import BatchProcess, measure

    run = tmp_path / "run"
    batch = BatchProcess(model="m", slug="m", command=[])
    _record(run / "attempts" / "m" / "a", 1)
    _record(run / "attempts" / "m" / "a", 2)  # K = 2 recorded: final
    _record(run / "attempts" / "m" / "b", 1, "resolved")  # done, but --all-attempts may add attempt 2
    final: dict = {}
    p = measure(run, [batch], ["a", "b"], lambda _: 2, final)
    assert (p.attempts_done, p.tasks_done) == (3, 2)
    assert set(final) == {("m", "a")}
    _record(run / "attempts" / "m" / "b", 2)
    shutil.rmtree(run / "attempts" / "m" / "a")  # a final task is not read again
    p = measure(run, [batch], ["a", "b"], lambda _: 2, final)
    assert (p.attempts_done, p.tasks_done) == (4, 2)
    assert measure(run, [batch], ["a", "b"], lambda _: 2).attempts_done == 2  # without the cache: read afresh


def test_progress_is_counted_less_often_as_counting_costs_more():
    from sweboard.scheduler import MEASURE_SHARE, next_measure

    assert next_measure(10.0, 0.001, 0.5) == 10.5  # a small run: every poll
    assert next_measure(10.0, 0.05, 0.5) == 10.0 + MEASURE_SHARE * 0.05  # a big one: under 1 % of a core
    assert MEASURE_SHARE >= 100


def test_the_progress_line_is_plain_when_not_a_terminal(tmp_path):
    import io

    from sweboard.scheduler import Progress, ProgressLine

    stream = io.StringIO()
    line = ProgressLine(10, stream=stream, every=0)
    line.update(Progress(attempts_done=3, attempts_bound=20, tasks_done=2, tasks=10, models=2, running=2,
                         timed_done=2, timed_tasks=10), 30.0)
    text = stream.getvalue()
    assert text.startswith("progress: tasks 2/10 · attempts 3 (of at most 20)") and "ETA 2m00s" in text
    # the instant baseline's 5 tasks done at once: the ETA rests on the 5 timed tasks, 1 of them done
    skewed = Progress(tasks_done=6, tasks=10, timed_done=1, timed_tasks=5).line(30.0)
    assert "ETA 2m00s" in skewed, skewed
    # 5 minutes went to the preflight and the canaries; attempts have run for 30 s: the ETA is theirs
    working = Progress(tasks_done=2, tasks=10, timed_done=2, timed_tasks=10, working=30.0).line(330.0)
    assert "5m30s elapsed" in working and "ETA 2m00s" in working, working
    assert "ETA" not in Progress(tasks=10, timed_tasks=10, working=None).line(300.0), "nothing done: no guess"
    assert "\x1b" not in text and "\r" not in text  # no terminal control codes in a log file


def test_a_terminal_of_zero_columns_gets_plain_progress_lines():
    """Some CI runners and `script` report a terminal 0 columns wide: a bar there prints nothing at all."""
    import fcntl
    import os
    import struct
    import termios

    from sweboard.scheduler import Progress, ProgressLine

    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 0, 0, 0))
    with os.fdopen(follower, "w") as stream:
        assert stream.isatty()
        line = ProgressLine(10, stream, every=0)
        assert line.bar is None, "no bar on a terminal without columns"
        line.update(Progress(models=1, tasks=10, attempts_bound=10), 1.0, force=True)
        line.close()
    assert b"progress:" in os.read(leader, 4096)
    os.close(leader)


def test_the_cpu_notice_is_given_once_a_minute_however_many_attempts_wait(monkeypatch):
    """Eight attempts waiting in turn on a busy machine: one line, not eight (nor 52 over a run)."""
    gate = slots.CpuGate(window=0.01)
    clock, free_at = [1000.0], [0.0]
    monkeypatch.setattr(gate, "percent", lambda: 100.0 if clock[0] < free_at[0] else 10.0)
    monkeypatch.setattr(slots.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(slots.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + 1.0))
    lines = []
    for _ in range(8):  # each waits 7 s (past the 5 s grace)
        free_at[0] = clock[0] + 7
        gate.wait_below(80, log=lines.append)
    assert len(lines) == 1 and "new work waits" in lines[0], lines
    clock[0] += 60
    free_at[0] = clock[0] + 7
    gate.wait_below(80, log=lines.append)
    assert len(lines) == 2, "a minute later it is said again"


def test_lines_of_attempts_side_by_side_are_never_glued(capsys):
    import threading

    from sweboard.batch import say

    threads = [threading.Thread(target=lambda i=i: [say(f"attempt {i} line {n}") for n in range(200)]) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1600 and all(line.startswith("attempt ") and line.count("line") == 1 for line in lines)


def test_the_canary_and_remote_attempts_pass_the_cpu_guardrail_without_waiting(tmp_path, monkeypatch):
    """A machine pinned at 100 %: an evaluation or attempt that is guarded waits; the canary's gradings and
    attempts run on another machine (cpu_guard=False) do not."""
    import threading

    gate = slots.CpuGate(window=0.01)
    monkeypatch.setattr(gate, "percent", lambda: 100.0)
    monkeypatch.setattr(slots, "_GATE", gate)
    cap = slots.Capacity(tmp_path, jobs=2, evaluator_workers=1, cpu_ceiling_percent=80.0)
    began = time.monotonic()
    with cap.evaluation(cpu_guard=False), cap.attempt(cpu_guard=False):
        pass
    assert time.monotonic() - began < 1.0
    stop = threading.Event()
    with pytest.raises(slots.Cancelled):
        threading.Timer(0.5, stop.set).start()
        with cap.attempt(cancelled=stop.is_set):  # guarded: it waits until cancelled
            pass


def test_a_probe_takes_the_next_free_slot_before_earlier_waiters(tmp_path):
    """Across processes: an attempt waiting as a probe (rank 0) gets the slot freed next, though
    four other processes have waited longer; a probe killed while waiting leaves nothing that blocks."""
    pool_dir = tmp_path / "pool"
    blocker = subprocess.Popen([sys.executable, "-c", HOLDER, str(pool_dir), "1", "1.5"],
                               stdout=subprocess.PIPE, text=True)
    pool = slots.SlotPool(pool_dir, 1)
    assert wait_for(lambda: pool.busy() == 1, 30)
    waiters = [subprocess.Popen([sys.executable, "-c", HOLDER, str(pool_dir), "1", "0.1"],
                                stdout=subprocess.PIPE, text=True) for _ in range(4)]
    time.sleep(0.8)  # the ordinary waiters poll first
    with pool.hold(rank=0):
        mine = time.time()
        time.sleep(0.2)
    theirs = [json.loads(w.communicate(timeout=60)[0])[0] for w in waiters]
    blocker.communicate(timeout=60)
    assert mine < min(theirs), "the probe waited behind an ordinary attempt"
    assert not list((pool_dir / "waiting").iterdir()), "a probe's marker outlived its wait"

    blocker = subprocess.Popen([sys.executable, "-c", HOLDER, str(pool_dir), "1", "1.0"],
                               stdout=subprocess.PIPE, text=True)
    assert wait_for(lambda: pool.busy() == 1, 30)
    dead = subprocess.Popen([sys.executable, "-c", "import sys\nfrom sweboard.slots import SlotPool\n"
                             "with SlotPool(sys.argv[1], 1).hold(rank=0):\n    pass", str(pool_dir)])
    assert wait_for(lambda: any((pool_dir / "waiting").iterdir()), 30), "the probe waits with a marker"
    os.kill(dead.pid, signal.SIGKILL)  # killed while waiting: its marker file stays, unlocked
    dead.wait()
    blocker.communicate(timeout=60)
    began = time.monotonic()
    with pool.hold():  # a dead probe's marker does not hold anyone back
        assert time.monotonic() - began < 5
    assert not list((pool_dir / "waiting").iterdir()), "the dead probe's marker was cleared"


def test_first_attempts_go_before_second_ones(tmp_path):
    """Within ranks: a task's first attempt (rank 1) takes the freed slot before the second attempts
    (rank 2) of other tasks that waited longer."""
    import threading

    pool = slots.SlotPool(tmp_path / "pool", 1)
    order = []

    def wait(name, rank):
        with pool.hold(rank=rank):
            order.append(name)

    with pool.hold():
        seconds = [threading.Thread(target=wait, args=(f"second-{i}", 2)) for i in range(4)]
        for t in seconds:
            t.start()
        time.sleep(0.5)
        first = threading.Thread(target=wait, args=("first", 1))
        first.start()
        assert wait_for(lambda: len(list((tmp_path / "pool" / "waiting").iterdir())) == 5, 10)
    for t in [*seconds, first]:
        t.join(20)
    assert order[0] == "first" and len(order) == 5, order


def test_the_work_clock_starts_with_the_first_attempt_folder(tmp_path):
    from types import SimpleNamespace

    from sweboard.scheduler import attempts_started

    batches = [SimpleNamespace(slug="m1"), SimpleNamespace(slug="m2")]
    assert not attempts_started(tmp_path, batches)
    (tmp_path / "attempts" / "m2" / "a__b-1").mkdir(parents=True)
    assert not attempts_started(tmp_path, batches), "a task folder alone is not an attempt"
    (tmp_path / "attempts" / "m2" / "a__b-1" / "attempt-1").mkdir()
    assert attempts_started(tmp_path, batches)
