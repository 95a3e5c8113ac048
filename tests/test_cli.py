"""Every driver answers --help; dry runs print plans and write nothing; bad input is one line."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PY_TOOLS = ["update_dataset_lock", "build_offline_images", "run_model_batch", "run_evaluation", "finish_run",
            "collect_manifests", "generate_leaderboard", "plan_run", "compare_runs", "scripted_provider",
            "benchmark_testbench"]
SH_TOOLS = ["bootstrap_i0.sh", "run_i1.sh", "run_i2.sh", "ensure_docker.sh", "ensure_debootstrap.sh", "setup_venv.sh",
            "run_tests.sh"]


def tool(name, *args, **kw):
    cmd = [sys.executable, str(ROOT / "tools" / f"{name}.py")] if not name.endswith(".sh") else ["bash", str(ROOT / "tools" / name)]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120, **kw)


@pytest.mark.parametrize("name", PY_TOOLS + SH_TOOLS)
def test_help(name):
    proc = tool(name, "--help")
    assert proc.returncode == 0 and "usage" in proc.stdout.lower(), proc.stderr


def test_batch_dry_run_and_evaluation_dry_run_write_nothing(home):
    proc = tool("run_model_batch", "--run-id", "dry", "--model", "scripted/solver", "--offline", "--dry-run")
    assert proc.returncode == 0 and "K=1 x 3 tasks" in proc.stdout
    assert not (home / "runs" / "dry").exists()
    assert tool("run_model_batch", "--run-id", "dry", "--model", "instant_empty_submit", "--offline").returncode == 0
    before = sorted(p.relative_to(home) for p in (home / "runs").rglob("*"))
    proc = tool("run_evaluation", "--run-id", "dry", "--dry-run")
    assert proc.returncode == 0
    assert "dry.instant_empty_submit.e1: cd " in proc.stdout and "swebench.harness.run_evaluation" in proc.stdout
    assert sorted(p.relative_to(home) for p in (home / "runs").rglob("*")) == before


@pytest.mark.parametrize("args, expected", [
    (("run_model_batch", "--run-id", "x", "--model", "no/such-model", "--offline"), "is not in the catalog"),
    (("run_model_batch", "--run-id", "x", "--model", "scripted/solver", "--section", "nope"), "no section 'nope'"),
    (("run_model_batch", "--run-id", "x", "--model", "scripted/solver", "--offline", "--set", "tiemout=3"), "unknown settings"),
    (("run_evaluation", "--run-id", "missing"), "no such run"),
    (("generate_leaderboard", "--version", "v9"), "no leaderboard version 'v9'"),
    (("bootstrap_i0.sh", "--run-id", "bad id"), "expected letters, digits"),
    (("run_i1.sh", "--attempts", "7"), "expected 1, 2 or 3"),
])
def test_bad_input_is_one_clear_line(home, args, expected):
    proc = tool(*args)
    assert proc.returncode == 2
    assert expected in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
