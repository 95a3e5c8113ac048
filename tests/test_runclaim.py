"""A run cannot be started by mistake: --resume of an unknown id is refused, and so is a second driver."""

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def claim(*args):
    return subprocess.run([sys.executable, str(ROOT / "tools" / "claim_run.py"), *args], capture_output=True,
                          text=True, timeout=60)


def test_resume_of_a_run_that_does_not_exist_is_refused_with_the_nearest_ids(home):
    (home / "runs" / "i4-offline-20261130").mkdir()
    (home / "runs" / "i4-offline-20261130" / "manifest.json").write_text("{}")
    proc = claim("--run-id", "i4-ofline-20261130", "--pid", "1", "--resume")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "no run 'i4-ofline-20261130' to resume" in proc.stderr and "nearest: i4-offline-20261130" in proc.stderr
    driver = subprocess.run(["bash", str(ROOT / "tools" / "run_i1.sh"), "--offline", "--execute", "--resume",
                             "--run-id", "no-such-run"], capture_output=True, text=True, timeout=300)
    assert driver.returncode == 2 and "no run 'no-such-run' to resume" in driver.stderr
    assert not (home / "runs" / "no-such-run").exists(), "nothing was started"


def test_a_second_driver_of_a_run_in_progress_is_refused_until_the_first_is_gone(home):
    first = subprocess.Popen(["sleep", "30"])
    try:
        assert claim("--run-id", "busy", "--pid", str(first.pid)).returncode == 0
        second = claim("--run-id", "busy", "--pid", str(subprocess.os.getpid()))
        assert second.returncode == 2 and f"run busy is being run by PID {first.pid}" in second.stderr
    finally:
        first.kill()
        first.wait()
    time.sleep(0.1)
    again = claim("--run-id", "busy", "--pid", str(subprocess.os.getpid()))
    assert again.returncode == 2 and "started already" in again.stderr, "a claimed run is started: --resume"
    assert claim("--run-id", "busy", "--pid", str(subprocess.os.getpid()), "--resume").returncode == 0, \
        "free once it is gone"


def test_a_check_run_is_off_the_board_from_its_first_write(home):
    """A canary or preflight run still in progress never shows on the board (its kind is in the first manifest)."""
    from sweboard.batch import BatchPlan, init_run
    from sweboard.canary import GOLD
    from sweboard.dataset_lock import load_locked_rows
    from sweboard.instances import load_slice
    from sweboard.leaderboard import load_manifests
    from sweboard.runconfig import load_runner_config

    sl = load_slice(ROOT / "config" / "instances_i0.yaml", "offline")
    lock, rows = load_locked_rows(sl.dataset_lock, sl.split, list(sl.instance_ids))
    init_run(BatchPlan("c1.canary", GOLD, sl, lock, rows, load_runner_config(), run_kind="canary"), resume=False)
    init_run(BatchPlan("real", GOLD, sl, lock, rows, load_runner_config()), resume=False)
    assert [m["run_id"] for m in load_manifests()] == ["real"]


def test_a_docker_host_that_does_not_answer_is_named_and_nothing_is_started(tmp_path, monkeypatch):
    from sweboard.dockerutil import require_engine
    from sweboard.errors import SweboardError

    sock = f"unix://{tmp_path}/no-engine.sock"
    proc = subprocess.run(["bash", str(ROOT / "tools" / "ensure_docker.sh")], capture_output=True, text=True,
                          timeout=60, env={**subprocess.os.environ, "DOCKER_HOST": sock})
    assert proc.returncode == 1 and f"DOCKER_HOST={sock} does not answer" in proc.stderr
    assert "starting dockerd" not in proc.stdout
    monkeypatch.setenv("DOCKER_HOST", sock)
    import pytest

    with pytest.raises(SweboardError, match="DOCKER_HOST=.* does not answer; start it, or unset DOCKER_HOST"):
        require_engine()


def test_stop_only_stops_what_this_checkout_started(tmp_path):
    other = subprocess.Popen(["sleep", "30"])
    try:
        (tmp_path / "dockerd-0123456789ab.pid").write_text(str(other.pid))  # another checkout's record
        proc = subprocess.run(["bash", str(ROOT / "tools" / "ensure_docker.sh"), "--stop"], capture_output=True,
                              text=True, timeout=60, env={**subprocess.os.environ, "SWEBOARD_STATE_DIR": str(tmp_path)})
        assert proc.returncode == 0 and "nothing to stop" in proc.stdout
        assert other.poll() is None, "another checkout's process was stopped"
    finally:
        other.kill()
        other.wait()


def test_resume_sets_aside_every_attempt_a_killed_session_left_not_only_those_it_runs_again(home):
    from sweboard.batch import BatchPlan, set_aside_interrupted
    from sweboard.records import attempt_dir
    from sweboard.catalog import load_catalog
    from sweboard.dataset_lock import load_locked_rows
    from sweboard.instances import load_slice
    from sweboard.runconfig import load_runner_config

    sl = load_slice(ROOT / "config" / "instances_i0.yaml", "offline")
    lock, rows = load_locked_rows(sl.dataset_lock, sl.split, list(sl.instance_ids))
    plan = BatchPlan("k", load_catalog().get("scripted/solver"), sl, lock, rows, load_runner_config())
    left = [attempt_dir("k", plan.model, r["instance_id"], 1) for r in rows[:2]]
    for d in left:
        d.mkdir(parents=True)
        (d / "agent.traj").write_text("Bearer sk-or-LEFT-BEHIND-0123")
    assert set_aside_interrupted(plan, ["sk-or-LEFT-BEHIND-0123"]) == 2
    for d in left:
        aside = d.with_name("attempt-1.interrupted-1")
        assert not d.exists() and "sk-or-LEFT" not in (aside / "agent.traj").read_text()
