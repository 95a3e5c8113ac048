"""SWE-agent, live: real `sweagent run` attempts against the scripted provider, isolated from any network.

Also the isolation check for mini's attempts: inside an attempt's container the only interface
is `lo`, and the gateway's port on the container's own loopback refuses. Nothing is sent
anywhere but loopback.
"""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import assert_board_identities

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.docker


def batch(run_id, model, *extra, instances=None):
    cmd = [sys.executable, str(ROOT / "tools" / "run_model_batch.py"), "--run-id", run_id, "--model", model,
           "--offline", "--runner", "sweagent", *extra]
    if instances:
        cmd += ["--instances", str(instances)]
    return cmd


def manifest(home, run_id):
    return json.loads((home / "runs" / run_id / "manifest.json").read_text())


def test_bootstrap_i0_offline_with_sweagent_solves_through_its_own_tools(home, offline_images, sweagent):
    proc = subprocess.run(["bash", str(ROOT / "tools" / "bootstrap_i0.sh"), "--offline", "--runner", "sweagent",
                           "--run-id", "sa-i0"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with (home / "runs" / "leaderboard.csv").open() as f:
        rows = {r["model"]: r for r in csv.DictReader(f)}
    solver, baseline = rows["scripted/solver"], rows["instant_empty_submit"]
    assert (solver["runner"], solver["resolved"], solver["instances"], solver["status"]) == ("sweagent", "3", "3", "ok")
    assert (baseline["resolved"], baseline["status"]) == ("0", "ok")
    assert_board_identities(home / "runs" / "leaderboard.csv")
    m = manifest(home, "sa-i0")
    assert m["versions"]["sweagent"] == "1.1.0" and m["versions"]["sweagent_source"]["commit"]
    assert m["batches"]["scripted/solver"]["runner_version"].startswith("1.1.0")
    for iid, attempts in m["batches"]["scripted/solver"]["attempts"].items():
        traj = json.loads((home / "runs" / "sa-i0" / attempts[0]["trajectory"]).read_text())
        actions = [step["action"].split()[0] for step in traj["trajectory"]]
        assert "str_replace_editor" in actions and actions[-2:] == ["submit", "submit"], actions
        record = json.loads((home / "runs" / "sa-i0" / attempts[0]["record"]).read_text())
        assert record["usage"]["model_calls"] == len(record["gateway_calls"]) >= 4


def test_failure_scenarios_behave_through_sweagent_as_through_mini(home, provider, offline_images, sweagent):
    """Same classes as mini: malformed output is the model's; rate limits are absorbed by the gateway;
    a failing or hanging provider is infrastructure and the model is skipped, never scored."""
    two = home / "config" / "two_tasks.yaml"
    two.write_text(yaml.safe_dump({"offline": {"dataset_lock": "config/dataset.offline.lock", "split": "dev",
                                               "instances": ["sweboard-fixtures__tinycalc-1",
                                                             "sweboard-fixtures__textkit-1"]}}))
    fast = ["--set", "attempt_timeout_seconds=30", "--set", "gateway_backoff_seconds=0.1"]
    for model in ("malformed", "ratelimited", "server-error", "hang"):
        extra = [*fast, "--set", "attempt_timeout_seconds=10"] if model == "hang" else fast
        proc = subprocess.run(batch(f"sa-{model}", f"scripted/{model}", *extra, instances=two), capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
    classes = lambda run, model: [a[0]["error_class"] for a in manifest(home, run)["batches"][model]["attempts"].values() if a]  # noqa: E731
    assert classes("sa-malformed", "scripted/malformed") == ["malformed_output", "malformed_output"]
    rl = manifest(home, "sa-ratelimited")["batches"]["scripted/ratelimited"]
    assert [a[0]["status"] for a in rl["attempts"].values()] == ["submitted", "submitted"]
    assert sum(a[0]["usage"]["retries"] for a in rl["attempts"].values()) >= 2
    for model, cls in (("server-error", "provider_error"), ("hang", "timeout")):
        entry = manifest(home, f"sa-{model}")["batches"][f"scripted/{model}"]
        assert entry["status"].startswith("skipped: provider failing"), entry["status"]
        assert classes(f"sa-{model}", f"scripted/{model}") == [cls, cls]
    from sweboard.outcomes import agent_failure

    hang = manifest(home, "sa-hang")["batches"]["scripted/hang"]["attempts"]
    assert {agent_failure(a[0]) for a in hang.values()} == {"provider_timeout"}, "a hang is the provider's"


def test_kill_9_then_resume_repeats_no_finished_sweagent_attempt(home, provider, offline_images, sweagent):
    proc = subprocess.Popen(batch("sa-k9", "scripted/slow"), start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    attempts = home / "runs" / "sa-k9" / "attempts" / "scripted__slow"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not list(attempts.glob("*/attempt-1/record.json")):
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p.parts[-3] for p in attempts.glob("*/attempt-1/record.json")}
    assert 1 <= len(finished) < 3
    import re

    configs = [p for p in attempts.rglob("config.yaml")]
    assert all(p.stat().st_mode & 0o077 == 0 for p in configs), "SWE-agent's config (it names the relay's secret) is readable by others"
    log = Path(provider.settings.call_log)
    time.sleep(2)
    before = len(log.read_text().splitlines())
    resumed = subprocess.run(batch("sa-k9", "scripted/slow", "--resume"), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    tokens = [p for p in attempts.rglob("*") if p.is_file() and re.search(rb"auth_token[\"']?\s*[:=]\s*[\"']?[0-9a-f]{32}",
                                                                        p.read_bytes())]
    assert tokens == [], f"a relay secret survived the kill -9 and the resume: {tokens}"
    after = [json.loads(x) for x in log.read_text().splitlines()][before:]
    assert not any(c["instance_id"] in finished for c in after), "a finished attempt's model calls were repeated"
    entry = manifest(home, "sa-k9")["batches"]["scripted/slow"]
    assert entry["status"] == "ok" and all(a[0]["status"] == "submitted" for a in entry["attempts"].values())
    left = subprocess.run(["docker", "ps", "-aq", "--filter", "label=sweboard.attempt"], capture_output=True, text=True)
    labels = subprocess.run(["docker", "inspect", "--format", '{{index .Config.Labels "sweboard.attempt"}}',
                             *left.stdout.split()], capture_output=True, text=True).stdout if left.stdout.split() else ""
    assert "sa-k9." not in labels, "a container of the killed session outlived the resume"


def _in_flight_container(run_id: str, seconds: float = 120) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ids = subprocess.run(["docker", "ps", "-q", "--filter", "label=sweboard.attempt"], capture_output=True,
                             text=True).stdout.split()
        for cid in ids:
            label = subprocess.run(["docker", "inspect", "--format", '{{index .Config.Labels "sweboard.attempt"}}', cid],
                                   capture_output=True, text=True).stdout.strip()
            if label.startswith(f"{run_id}."):
                return cid
        time.sleep(0.2)
    raise AssertionError(f"no container of {run_id} came up")


def _gateway_port(home: Path, run_id: str) -> int:
    """The port the agent was given for the gateway on the host's 127.0.0.1."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for path in (home / "runs" / run_id).rglob("agent_spec.json"):
            spec = json.loads(path.read_text())
            if "model_kwargs" in spec:  # mini
                base = spec["model_kwargs"]["api_base"]
            else:  # SWE-agent: its own command line
                base = next(a for a in spec["args"] if a.startswith("--agent.model.api_base=")).split("=", 1)[1]
            return int(base.split(":")[2].split("/")[0])
        time.sleep(0.2)
    raise AssertionError("no gateway port found")


@pytest.mark.parametrize("runner", ["mini", "sweagent"])
def test_attempt_containers_have_no_network_at_all(home, provider, offline_images, runner, request):
    """By inspection, from the host: NetworkMode none, only `lo` inside, and the gateway's port on the
    container's own loopback refuses (the gateway lives on the host's loopback, out of reach)."""
    if runner == "sweagent":
        request.getfixturevalue("sweagent")
    run_id = f"iso-{runner}"
    cmd = batch(run_id, "scripted/hang", "--set", "attempt_timeout_seconds=25")
    cmd[cmd.index("--runner") + 1] = runner
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        cid = _in_flight_container(run_id)
        port = _gateway_port(home, run_id)
        mode = subprocess.run(["docker", "inspect", "--format", "{{.HostConfig.NetworkMode}}", cid],
                              capture_output=True, text=True).stdout.strip()
        assert mode == "none"
        dev = subprocess.run(["docker", "exec", cid, "cat", "/proc/net/dev"], capture_output=True, text=True).stdout
        interfaces = [line.split(":")[0].strip() for line in dev.splitlines()[2:] if ":" in line]
        assert interfaces == ["lo"], dev
        probe = ("import socket; s = socket.socket(); s.settimeout(2); "
                 f"print(s.connect_ex(('127.0.0.1', {port})))")
        code = subprocess.run(["docker", "exec", cid, "python3", "-c", probe], capture_output=True, text=True)
        assert code.stdout.strip() == "111", code.stdout + code.stderr  # ECONNREFUSED
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
