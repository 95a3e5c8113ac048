"""Provider budgets across runs: a spent quota stops the batch, says why, and a later --resume finishes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.docker


def set_quota(home: Path, quota: int) -> None:
    path = home / "config" / "model_catalog.yaml"
    data = yaml.safe_load(path.read_text())
    data["providers"]["scripted"]["daily_call_quota"] = quota
    path.write_text(yaml.safe_dump(data))


def batch(*extra):
    return subprocess.run([sys.executable, str(ROOT / "tools" / "run_model_batch.py"), "--run-id", "quota",
                           "--model", "scripted/solver", "--offline", *extra], capture_output=True, text=True, timeout=600)


def test_daily_quota_stops_launching_and_resume_continues(home, provider, offline_images):
    set_quota(home, 4)  # the solver needs 3 calls per task: the second task runs out mid-attempt
    first = batch()
    assert first.returncode == 3, first.stderr  # stopped and resumable
    manifest = json.loads((home / "runs" / "quota" / "manifest.json").read_text())
    entry = manifest["batches"]["scripted/solver"]
    assert entry["status"].startswith("stopped: scripted daily call quota exhausted (4/4")
    done = {iid for iid, a in entry["attempts"].items() if a}
    # tasks run side by side (after the probe call, every first call goes at once): at most the first
    # finished; the attempts the quota cut short left no record
    assert len(done) <= 1, "the quota let more than one task's three calls through"
    ledger = json.loads((home / "runs" / "ledger.json").read_text())
    assert sum(ledger["scripted"]["calls_by_day"].values()) == 4
    assert provider.calls == 4, "the refused call never reached the provider"

    finish = subprocess.run([sys.executable, str(ROOT / "tools" / "finish_run.py"), "--run-id", "quota"],
                            capture_output=True, text=True)
    assert finish.returncode == 0 and "left open for --resume" in finish.stdout

    set_quota(home, 100)  # a new day, or a bigger plan
    second = batch("--resume")
    assert second.returncode == 0, second.stderr
    entry = json.loads((home / "runs" / "quota" / "manifest.json").read_text())["batches"]["scripted/solver"]
    assert entry["status"] == "ok" and all(len(a) == 1 for a in entry["attempts"].values())
    assert entry["sessions"] == 2
    # the attempts the quota cut short are kept, renamed (a task whose attempt had not started has none)
    aside = list((home / "runs" / "quota" / "attempts").glob("*/*/attempt-1.interrupted-*"))
    assert 1 <= len(aside) <= 4 - len(done) and all((a / "calls.jsonl").is_file() for a in aside), aside


def test_per_model_wall_clock_budget_stops_launching(home, provider, offline_images):
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "run_model_batch.py"), "--run-id", "budget",
                           "--model", "scripted/solver", "--offline", "--set", "model_budget_seconds=0.5",
                           "--set", "jobs=1"],  # one attempt at a time: the first outlasts the budget
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 3, proc.stderr  # stopped and resumable
    entry = json.loads((home / "runs" / "budget" / "manifest.json").read_text())["batches"]["scripted/solver"]
    assert entry["status"].startswith("stopped: per-model wall-clock budget of 0.5s reached")
    assert sum(len(a) for a in entry["attempts"].values()) == 1, "the attempt under way finishes; no new one starts"
