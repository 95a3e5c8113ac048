"""The preflight proves the real path before anything is spent (tools/preflight.py, every driver)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def preflight(*args, timeout=900):
    return subprocess.run([sys.executable, str(ROOT / "tools" / "preflight.py"), *args], capture_output=True,
                          text=True, timeout=timeout)


def test_a_missing_key_stops_it_first_and_dry_runs_name_it(home):
    model = "Qwen/Qwen3-Coder-30B-A3B-Instruct"
    proc = preflight("--run-id", "pf-keys", "--offline", "--model", model)
    assert proc.returncode == 1
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("preflight credentials FAIL") and "CHUTES_API_KEY" in lines[0]
    assert not (home / "runs" / "pf-keys.canary").exists(), "nothing slow ran"
    dry = subprocess.run(["bash", str(ROOT / "tools" / "bootstrap_i0.sh"), "--model", model, "--dry-run"],
                         capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0 and "MISSING" in dry.stdout and "CHUTES_API_KEY" in dry.stdout
    plan = subprocess.run(["bash", str(ROOT / "tools" / "run_i1.sh")], capture_output=True, text=True, timeout=300)
    assert plan.returncode == 0 and "MISSING KEY: CHUTES_API_KEY is not set" in plan.stdout, "a plan names it too"


@pytest.mark.docker
def test_the_whole_preflight_with_sweagent_derives_its_images_and_is_not_repeated(home, provider, offline_images,
                                                                                   sweagent):
    """Offline i1 slice, SWE-agent: probe through the gateway, derived images, canary, solver via SWE-agent."""
    args = ("--run-id", "pf-sa", "--offline", "--instances", str(ROOT / "config" / "instances_i1.yaml"),
            "--runner", "sweagent", "--model", "scripted/solver", "--model", "instant_empty_submit")
    proc = preflight(*args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    print(proc.stdout)
    rec = json.loads((home / "runs" / "pf-sa" / "preflight.json").read_text())
    assert rec["passed"] and [s["name"] for s in rec["steps"]] == ["credentials", "probe", "images", "history", "canary", "solver"]
    assert rec["steps"][1]["detail"].startswith("1 model answered a one-token request")
    derived = rec["sweagent_images"]
    assert derived and all(d["image"].startswith("sweboard-sweagent/") and d["action"] in ("built", "cached")
                           for d in derived.values()), "the offline images lack swe-rex, as real ones do"
    assert "resolved 4/4 tasks" in rec["steps"][5]["detail"] and "through sweagent" in rec["steps"][5]["detail"]
    probe_calls = list((home / "runs" / "pf-sa" / "preflight-probe").glob("*.calls.jsonl"))
    from sweboard.gateway import read_calls

    [call] = read_calls(probe_calls[0])
    assert call["status"] == 200 and call["cost_usd"] > 0, "metered: the probe is in the ledger"

    again = preflight(*args, "--resume")
    assert again.returncode == 0 and "not repeated" in again.stdout

    failing = preflight("--run-id", "pf-404", "--offline", "--instances", str(ROOT / "config" / "instances_i1.yaml"),
                        "--model", "scripted/retired-model")
    assert failing.returncode == 1
    [line] = failing.stdout.strip().splitlines()[-1:]
    assert line.startswith("preflight probe       FAIL") and "scripted/retired-model" in line and "HTTP 404" in line
