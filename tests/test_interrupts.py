"""Kills, SIGTERM and Ctrl-C mid-attempt: nothing leaks, nothing is orphaned, nothing is lost.

The scripted provider's `hang` model holds every call open, so an attempt is reliably in
flight when the signal lands. A planted key is written into the attempt folder (as an agent
that leaked it into its trajectory would) to prove the scrubbing on every exit path.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import wait_for

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.docker
PLANTED = "sk-or-PLANTED-interrupts-5d1e77"


def batch(run_id, *extra, timeout=8):
    return [sys.executable, str(ROOT / "tools" / "run_model_batch.py"), "--run-id", run_id, "--model", "scripted/hang",
            "--offline", "--set", f"attempt_timeout_seconds={timeout}", *extra]


def in_flight(run_id: str, found: list, provider) -> bool:
    """An attempt's first call is held open at the provider (scripted/hang): `found` gets that attempt's
    folder. Tasks run side by side, so the folder is chosen by the call the provider holds, not by name
    (on a loaded machine another task's folder may exist long before its agent calls)."""
    held = provider.holding
    sessions = sorted(Path(os.environ["SWEBOARD_HOME"], "runs", run_id, "attempts", "scripted__hang").glob(
        "*/attempt-1/.session"))
    waiting = [s.parent for s in sessions if s.parent.parent.name in held]
    if not waiting or not agent_children(run_id):
        return False
    found.append(waiting[0])
    return True


def agent_children(run_id: str) -> list[int]:
    """PIDs of mini-swe-agent attempts working on this run: a cold child by its spec path; an attempt
    forked from the machine's warm fork host by the PID its runner wrote beside its log."""
    out = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if "sweboard.runners.mini_attempt" in cmd and f"/runs/{run_id}/" in cmd:
                    out.append(int(proc.name))
            except OSError:
                continue
    for pid_file in Path(os.environ["SWEBOARD_HOME"], "runs", run_id, "attempts").glob("*/*/*/.agent-pid"):
        pid = int(pid_file.read_text())
        try:
            if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z":  # a zombie is gone
                out.append(pid)
        except OSError:
            continue
    return out


def containers(run_id: str) -> list[str]:
    proc = subprocess.run(["docker", "ps", "-aq", "--filter", "label=sweboard.attempt"], capture_output=True, text=True)
    ids = proc.stdout.split()
    if not ids:
        return []
    labels = subprocess.run(["docker", "inspect", "--format", '{{index .Config.Labels "sweboard.attempt"}}', *ids],
                            capture_output=True, text=True).stdout.split()
    return [label for label in labels if label.startswith(run_id.lower() + ".")]


def leak_into(attempt: Path) -> Path:
    """What a careless agent might do: write the key into its trajectory."""
    leak = attempt / "agent.traj"
    leak.write_text(json.dumps({"messages": [{"content": f"Authorization: Bearer {PLANTED}"}]}))
    return leak


def grep_key(*roots: Path) -> list[str]:
    """Every file under the roots (and the machine cache, ~/.cache/sweboard) that holds the planted key."""
    from sweboard.paths import cache_dir

    hits = []
    for root in (*roots, cache_dir()):
        for p in root.rglob("*"):
            if p.is_file() and not p.is_symlink() and p.stat().st_size < 20_000_000 and PLANTED.encode() in p.read_bytes():
                hits.append(str(p))
    return hits


@pytest.fixture
def planted(home, monkeypatch):
    (home / "secrets" / "credentials.txt").write_text(f"OPENROUTER_API_KEY={PLANTED}\n")
    return home


@pytest.mark.parametrize("sig, code, word", [(signal.SIGTERM, 3, "terminated"), (signal.SIGINT, 3, "interrupted")])
def test_sigterm_and_ctrl_c_stop_cleanly_scrubbed_and_resumable(planted, provider, offline_images, sig, code, word):
    home, run_id = planted, f"sig{int(sig)}"
    proc = subprocess.Popen(batch(run_id, timeout=30), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    found = []
    assert wait_for(lambda: in_flight(run_id, found, provider)), "the attempt never started"
    attempt = found[0]
    assert not (attempt / "record.json").exists()
    leak = leak_into(attempt)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert err.strip().splitlines()[-1].startswith(f"{word}: finished attempts are kept") and "Traceback" not in err
    assert PLANTED not in leak.read_text(), "the attempt folder was not scrubbed on the way out"
    assert wait_for(lambda: not agent_children(run_id), 10), "the agent child outlived its batch"
    assert containers(run_id) == [], "the attempt's container outlived its batch"
    entry = json.loads((home / "runs" / run_id / "manifest.json").read_text())["batches"]["scripted/hang"]
    assert entry["status"].startswith("stopped: interrupted")
    assert grep_key(home / "runs", home / "predictions") == []


def test_kill_9_orphans_nothing_and_resume_scrubs_what_it_sets_aside(planted, provider, offline_images):
    """Also: a provider that hangs on every call trips the failure streak (the model is skipped, not scored)."""
    home, run_id = planted, "k9"
    proc = subprocess.Popen(batch(run_id, timeout=15), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    found = []
    assert wait_for(lambda: in_flight(run_id, found, provider))
    attempt = found[0]
    leak_into(attempt)
    os.kill(proc.pid, signal.SIGKILL)  # the batch alone: its child must follow by itself
    proc.wait()
    assert wait_for(lambda: not agent_children(run_id), 10), "the agent child outlived a kill -9 of its batch"

    resumed = subprocess.run(batch(run_id, "--resume", timeout=15), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    aside = attempt.with_name("attempt-1.interrupted-1")
    assert aside.is_dir() and PLANTED not in (aside / "agent.traj").read_text()
    assert containers(run_id) == [], "containers of the killed session were not removed"
    entry = json.loads((home / "runs" / run_id / "manifest.json").read_text())["batches"]["scripted/hang"]
    assert entry["status"].startswith("skipped: provider failing (2 attempts in a row")
    # the provider never answered: its calls went one at a time (the probe gate), so of the attempts cut
    # short (every task's started; the others' first calls were held) exactly one had a call upstream
    assert {x["reason"] for x in entry["set_aside"]} == {"interrupted"}
    assert sorted(x["usage"]["upstream_requests"] for x in entry["set_aside"])[-2:] in ([0, 1], [1]), entry["set_aside"]
    assert grep_key(home / "runs", home / "predictions") == []


def test_a_stale_child_writes_nothing_into_a_folder_that_is_no_longer_its_own(tmp_path):
    from sweboard.runners.mini_attempt import still_mine

    marker = tmp_path / ".session"
    marker.write_text("new-session")
    assert still_mine({"session_file": str(marker), "session": "new-session"})
    assert not still_mine({"session_file": str(marker), "session": "old-session"})
    assert not still_mine({"session_file": str(tmp_path / "gone" / ".session"), "session": "old-session"})


@pytest.mark.parametrize("group, sig, code", [(False, signal.SIGTERM, 3), (True, signal.SIGINT, 3)])
def test_a_signal_to_the_scheduler_stops_every_batch_cleanly(planted, provider, offline_images, group, sig, code):
    """Models side by side (tools/run_models.py). SIGTERM to the scheduler alone: it stops each batch the
    way SIGTERM stops one alone, and waits for them. Ctrl-C at a terminal (SIGINT to the whole process
    group): each batch gets it and the scheduler's SIGTERM too; the second signal must not cut the first's
    clean-up short."""
    home, run_id = planted, f"sched-{int(sig)}"
    cmd = [sys.executable, str(ROOT / "tools" / "run_models.py"), "--run-id", run_id, "--model", "scripted/hang",
           "--model", "scripted/wrong", "--offline", "--attempts", "2", "--set", "attempt_timeout_seconds=12"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    found = []
    assert wait_for(lambda: in_flight(run_id, found, provider)), "the attempt never started"
    attempt = found[0]
    leak = leak_into(attempt)
    if group:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, out[-2000:] + err[-2000:]
    assert "Traceback" not in out + err
    assert PLANTED not in leak.read_text()
    assert wait_for(lambda: not agent_children(run_id), 10), "an agent outlived the scheduler"
    assert containers(run_id) == []
    batches = json.loads((home / "runs" / run_id / "manifest.json").read_text())["batches"]
    assert batches["scripted/hang"]["status"].startswith("stopped: interrupted")
    assert batches["scripted/wrong"]["status"] == "ok" or batches["scripted/wrong"]["status"].startswith("stopped: interrupted")
    assert grep_key(home / "runs", home / "predictions") == []
    resumed = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]


def test_kill_9_of_the_scheduler_alone_takes_batches_and_attempts_down_at_once(planted, provider, offline_images):
    """Nothing writes into orphaned folders: the batches die with the scheduler, the warm servers and their
    forks with the batches; the scheduler's slot folder is removed by the next start."""
    import tempfile

    home, run_id = planted, "sched-k9"
    cmd = [sys.executable, str(ROOT / "tools" / "run_models.py"), "--run-id", run_id, "--model", "scripted/hang",
           "--model", "scripted/solver", "--offline", "--set", "attempt_timeout_seconds=30"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    found = []
    assert wait_for(lambda: in_flight(run_id, found, provider)), "the attempt never started"
    pools = list(Path(tempfile.gettempdir()).glob(f"sweboard-slots-{proc.pid}-*"))
    assert pools, "the scheduler's slot folder is named by its PID"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = time.monotonic()
    assert wait_for(lambda: not agent_children(run_id), 5), "an agent outlived its scheduler by seconds"
    took = time.monotonic() - killed
    resumed = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert not any(p.exists() for p in pools), "the killed scheduler's slot folder was left behind"
    assert containers(run_id) == []
    assert grep_key(home / "runs", home / "predictions") == []
    print(f"agents gone {took:.2f}s after kill -9 of the scheduler")


PHASES = [("preflight", "== preflight"), ("agent batches", "== 2 models"), ("evaluation", "== official evaluation"),
          ("fold", "== leaderboard")]


def _sigint_default():
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a test runner started in the background inherits it ignored


def test_ctrl_c_at_each_phase_of_a_driver_stops_with_a_true_last_line_and_resume_completes(home, offline_images):
    """One run, interrupted once in each phase of bootstrap_i0.sh (Ctrl-C to its whole process group, as a
    terminal sends it), each time resumed: exit 3 and a last line naming the phase; the last --resume
    finishes the run and folds it onto the board."""
    from conftest import wait_for  # noqa: F401  (the module's own helper)

    base = ["bash", str(ROOT / "tools" / "bootstrap_i0.sh"), "--offline", "--instance-ids",
            "sweboard-fixtures__tinycalc-1", "--run-id", "ctrlc"]
    for n, (phase, trigger) in enumerate(PHASES):
        cmd = base + (["--resume"] if n else [])
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True, preexec_fn=_sigint_default)
        lines = []
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith(trigger):
                os.killpg(proc.pid, signal.SIGINT)
                break
        rest, _ = proc.communicate(timeout=300)
        lines += rest.splitlines()
        assert proc.returncode == 3, (phase, lines[-15:])
        assert lines[-1].startswith(f"stopped: interrupted during the {phase};") and "--resume" in lines[-1], lines[-5:]
    done = subprocess.run(base + ["--resume"], capture_output=True, text=True, timeout=600, preexec_fn=_sigint_default)
    assert done.returncode == 0, done.stdout[-3000:]
    m = json.loads((home / "runs" / "ctrlc" / "manifest.json").read_text())
    assert m["status"] == "finished"
    rows = [line for line in done.stdout.splitlines() if line.strip().endswith("[ctrlc]")]
    assert len(rows) == 2 and any("scripted/solver" in r and "resolved 1/1" in r for r in rows), done.stdout[-2000:]
