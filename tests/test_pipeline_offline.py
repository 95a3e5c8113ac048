"""i0 end to end on the offline task set: bootstrap, refusal, resume, interruption, secrets."""

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.docker
PLANTED = {"CHUTES_API_KEY": "cpk-PLANTED-chutes-3f9a1c", "OPENROUTER_API_KEY": "sk-or-PLANTED-router-77b2e0"}


def plant_keys(home: Path) -> None:
    lines = ["# planted by the test: these values must never appear in any artifact"]
    lines += [f"{k}={v}" for k, v in PLANTED.items()]
    (home / "secrets" / "credentials.txt").write_text("\n".join(lines) + "\n")


def scan_for_secrets(*roots: Path) -> list[str]:
    hits = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                hits += [f"{path}: {name}" for name, value in PLANTED.items() if value.encode() in data]
    return hits


def bootstrap(*args, env=None):
    return subprocess.run(["bash", str(ROOT / "tools" / "bootstrap_i0.sh"), *args], capture_output=True, text=True,
                          env=env, timeout=900)


def leaderboard(home: Path) -> dict:
    with (home / "runs" / "leaderboard.csv").open() as f:
        return {row["model"]: row for row in csv.DictReader(f)}


def test_bootstrap_offline_end_to_end_refusal_and_resume(home, offline_images, monkeypatch):
    plant_keys(home)
    monkeypatch.setenv("OPENROUTER_API_KEY", PLANTED["OPENROUTER_API_KEY"])
    proc = bootstrap("--offline", "--run-id", "e2e")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]

    board = leaderboard(home)
    solver, baseline = board["scripted/solver"], board["instant_empty_submit"]
    assert (solver["kind"], solver["instances"], solver["resolved"], solver["status"]) == ("test-equipment", "3", "3", "ok")
    assert (baseline["kind"], baseline["resolved"], baseline["empty_patches"]) == ("baseline", "0", "3")
    assert solver["run_id"] == baseline["run_id"] == "e2e"

    manifest = json.loads((home / "runs" / "e2e" / "manifest.json").read_text())
    assert manifest["status"] == "finished"
    assert isinstance(manifest["peak_cpu_percent"], float)
    offline_lock = (ROOT / "config" / "dataset.offline.lock").read_text()
    assert manifest["dataset_lock"]["revision"] in offline_lock
    assert manifest["versions"]["swebench"] == "5.0.2" and manifest["versions"]["mini-swe-agent"] == "2.4.6"
    assert manifest["project"]["commit"]
    for iid, attempts in manifest["batches"]["scripted/solver"]["attempts"].items():
        assert (home / "runs" / "e2e" / attempts[0]["trajectory"]).is_file()
        [verdict] = manifest["evaluations"]["scripted/solver"]["instances"][iid]
        assert verdict["verdict"] == "resolved" and (home / "runs" / "e2e" / verdict["instance_report"]).is_file()
    preds = [json.loads(x) for x in (home / "predictions" / "e2e" / "scripted__solver.jsonl").read_text().splitlines()]
    assert len(preds) == 3 and all(p["model_patch"].startswith("diff --git") for p in preds)
    assert (home / "runs" / "manifests.csv").is_file()
    page = (home / "runs" / "leaderboard.html").read_text()
    assert 'href="e2e/manifest.json"' in page and page.count('<section class="run"') == 1
    assert page.count('<tr class="') == 4, "two rows, in the headline table and behind the expander"
    assert (home / "runs" / "e2e" / "pairwise.csv").is_file() and (home / "runs" / "leaderboard_by_repo.csv").is_file()

    # the same run id again: refused, one line, nothing touched
    before = (home / "runs" / "e2e" / "manifest.json").read_bytes()
    again = bootstrap("--offline", "--run-id", "e2e")
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "--resume" in again.stderr
    assert (home / "runs" / "e2e" / "manifest.json").read_bytes() == before

    # --resume: finishes at once, no model call repeated
    calls = home / "runs" / ".provider" / "e2e.calls.jsonl"
    n_calls = len(calls.read_text().splitlines())
    assert n_calls == 9 + 1, "the solver's 3 tasks x 3 calls, and the preflight's one-token probe"
    probe = [json.loads(x) for x in calls.read_text().splitlines()][0]
    assert probe["model"] == "scripted/solver" and probe["status"] == 200
    t = time.monotonic()
    resumed = bootstrap("--offline", "--run-id", "e2e", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert time.monotonic() - t < 60
    assert len(calls.read_text().splitlines()) == n_calls
    assert (home / "runs" / "e2e" / "manifest.json").read_bytes() == before
    assert leaderboard(home)["scripted/solver"]["resolved"] == "3"

    assert scan_for_secrets(home / "runs", home / "predictions") == []


def run_batch_cmd(run_id, model, *extra):
    return [sys.executable, str(ROOT / "tools" / "run_model_batch.py"), "--run-id", run_id, "--model", model,
            "--offline", *extra]


def test_a_real_provider_path_gets_the_key_but_no_artifact_does(home, provider, offline_images, monkeypatch):
    """Chutes' code path pointed at 127.0.0.1: the key is sent, the unknown model is skipped, nothing leaks."""
    plant_keys(home)
    monkeypatch.setenv("CHUTES_BASE_URL", provider.base_url)
    proc = subprocess.run(run_batch_cmd("keys", "Qwen/Qwen3-Coder-30B-A3B-Instruct"), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((home / "runs" / "keys" / "manifest.json").read_text())
    batch = manifest["batches"]["Qwen/Qwen3-Coder-30B-A3B-Instruct"]
    assert batch["status"].startswith("skipped: model unavailable")
    assert batch["model"]["api_key_env"] == "CHUTES_API_KEY"
    calls = [json.loads(x) for x in Path(provider.settings.call_log).read_text().splitlines()]
    expected = hashlib.sha256(PLANTED["CHUTES_API_KEY"].encode()).hexdigest()[:12]
    assert calls and {c["key_sha256_12"] for c in calls} == {expected} and {c["status"] for c in calls} == {404}
    # skipped after the first attempt: the batch did not keep calling an unknown model
    assert sum(len(v) for v in batch["attempts"].values()) == 1
    assert scan_for_secrets(home / "runs", home / "predictions") == []


def test_kill_9_mid_batch_then_resume_repeats_no_finished_attempt(home, provider, offline_images):
    proc = subprocess.Popen(run_batch_cmd("killed", "scripted/slow"), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    attempts = home / "runs" / "killed" / "attempts" / "scripted__slow"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(attempts.glob("*/attempt-1/record.json")):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p.parts[-3] for p in attempts.glob("*/attempt-1/record.json")}
    assert 1 <= len(finished) < 3
    time.sleep(5)  # let an orphaned agent child finish its in-flight call before counting
    log = Path(provider.settings.call_log)
    before = [json.loads(x) for x in log.read_text().splitlines()]

    again = subprocess.run(run_batch_cmd("killed", "scripted/slow"), capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "--resume" in again.stderr
    resumed = subprocess.run(run_batch_cmd("killed", "scripted/slow", "--resume"), capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    after = [json.loads(x) for x in log.read_text().splitlines()][len(before):]
    assert not any(c["instance_id"] in finished for c in after), "a finished attempt's model calls were repeated"
    manifest = json.loads((home / "runs" / "killed" / "manifest.json").read_text())
    assert manifest["batches"]["scripted/slow"]["status"] == "ok"
    assert all(a[0]["status"] == "submitted" for a in manifest["batches"]["scripted/slow"]["attempts"].values())
