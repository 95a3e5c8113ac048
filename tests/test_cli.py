"""Every driver answers --help; dry runs print plans and write nothing; bad input is one line."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PY_TOOLS = ["update_dataset_lock", "build_offline_images", "run_model_batch", "run_evaluation", "finish_run",
            "collect_manifests", "generate_leaderboard", "plan_run", "compare_runs", "scripted_provider",
            "benchmark_testbench", "describe_slice", "suggest_timeouts", "check_catalog", "reconcile_usage", "benchmark_fold", "validation_memo", "benchmark_scale"]
SH_TOOLS = ["bootstrap_i0.sh", "run_i1.sh", "run_i2.sh", "ensure_docker.sh", "ensure_debootstrap.sh", "setup_venv.sh",
            "run_tests.sh", "install_sweagent.sh", "run_i3.sh", "run_i4.sh", "ensure_chromium.sh"]


def tool(name, *args, **kw):
    cmd = [sys.executable, str(ROOT / "tools" / f"{name}.py")] if not name.endswith(".sh") else ["bash", str(ROOT / "tools" / name)]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120, **kw)


@pytest.mark.parametrize("name", PY_TOOLS + SH_TOOLS)
def test_help(name):
    proc = tool(name, "--help")
    assert proc.returncode == 0 and "usage" in proc.stdout.lower(), proc.stderr


def test_batch_dry_run_and_evaluation_dry_run_write_nothing(home):
    proc = tool("run_model_batch", "--run-id", "dry", "--model", "scripted/solver", "--offline", "--dry-run")
    assert proc.returncode == 0 and "K=1 x 4 tasks" in proc.stdout  # the one default slice: instances_i1.yaml
    assert not (home / "runs" / "dry").exists()
    assert tool("run_model_batch", "--run-id", "dry", "--model", "instant_empty_submit", "--offline").returncode == 0
    before = sorted(p.relative_to(home) for p in (home / "runs").rglob("*"))
    proc = tool("run_evaluation", "--run-id", "dry", "--dry-run")
    assert proc.returncode == 0
    assert "dry.instant_empty_submit.e1: cd " in proc.stdout and "swebench.harness.run_evaluation" in proc.stdout
    assert sorted(p.relative_to(home) for p in (home / "runs").rglob("*")) == before


@pytest.mark.parametrize("args, expected", [
    (("run_model_batch", "--run-id", "x", "--model", "no/such-model", "--offline"), "not in model_catalog.yaml"),
    (("run_model_batch", "--run-id", "x", "--model", "scripted/solver", "--section", "nope"), "no section 'nope'"),
    (("run_model_batch", "--run-id", "x", "--model", "scripted/solver", "--offline", "--set", "tiemout=3"), "--set tiemout: unknown setting"),
    (("run_evaluation", "--run-id", "missing"), "no such run"),
    (("generate_leaderboard", "--version", "v9"), "no leaderboard version 'v9'"),
    (("bootstrap_i0.sh", "--run-id", "bad id"), "expected 1-100 letters, digits"),
    (("run_i1.sh", "--attempts", "7"), "expected 1, 2 or 3"),
    (("run_i1.sh", "--runner", "claude"), "expected mini or sweagent"),
    (("bootstrap_i0.sh", "--runner", "x"), "expected mini or sweagent"),
    (("install_sweagent.sh", "--source", "/no/such/thing"), "expected GIT_URL@TAG, a source folder"),
    (("install_sweagent.sh", "--commit", "abc"), "expected a 40-digit hex commit id"),
    (("run_model_batch", "--run-id", "../../x", "--model", "instant_empty_submit", "--offline"), "expected 1-100 letters"),
    (("run_model_batch", "--run-id", "a/b", "--model", "instant_empty_submit", "--offline"), "expected 1-100 letters"),
    (("run_model_batch", "--run-id", "x" * 300, "--model", "instant_empty_submit", "--offline"), "expected 1-100 letters"),
    (("run_evaluation", "--run-id", "../x"), "expected 1-100 letters"),
    (("finish_run", "--run-id", "a/../../b"), "expected 1-100 letters"),
    (("run_model_batch", "--run-id", "x", "--model", "instant_empty_submit", "--offline", "--set",
      "attempt_timeout_seconds=nan"), "--set attempt_timeout_seconds: expected a finite number"),
    (("run_model_batch", "--run-id", "x", "--model", "instant_empty_submit", "--offline", "--set",
      "attempt_timeout_seconds=inf"), "expected a finite number"),
    (("run_model_batch", "--run-id", "x", "--model", "instant_empty_submit", "--offline", "--set", "jobs=0"),
     "expected a whole number >= 1"),
    (("run_models", "--run-id", "x", "--model", "instant_empty_submit", "--offline", "--jobs", "0"),
     "--jobs 0: expected a whole number >= 1"),
    (("run_models", "--run-id", "x", "--model", "no/such-model", "--offline"), "no/such-model"),
    (("run_model_batch", "--run-id", "x", "--model", "instant_empty_submit", "--offline", "--set",
      "cpu_ceiling_percent=120"), "cpu_ceiling_percent: expected a percentage in (0, 100]"),
    (("run_model_batch", "--run-id", "x", "--model", "instant_empty_submit", "--offline", "--set",
      "gateway_max_retries=-1"), "expected a number >= 0"),
])
def test_bad_input_is_one_clear_line(home, args, expected):
    before = sorted(p.relative_to(home) for p in home.rglob("*"))
    proc = tool(*args)
    assert proc.returncode == 2
    assert expected in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert sorted(p.relative_to(home) for p in home.rglob("*")) == before, "bad input wrote something"
    assert not (home.parent / "x").exists() and not (home.parent.parent / "x").exists()


@pytest.mark.parametrize("mutate, field", [
    (lambda m: m.pop("slice"), "slice"),
    (lambda m: m["batches"].__setitem__("m", []), "batches['m']"),
    (lambda m: m["batches"]["m"].__setitem__("attempts", {"t": [{"attempt": "one"}]}), "attempts['t'][0].attempt"),
])
def test_a_manifest_of_the_wrong_shape_is_named(home, mutate, field):
    import json

    m = {"run_id": "bad", "slice": {"instance_ids": ["t"], "split": "dev"},
         "dataset_lock": {"repo_id": "d", "revision": "r"}, "evaluations": {},
         "batches": {"m": {"model": {}, "kind": "model", "status": "ok", "attempts": {}}}}
    mutate(m)
    (home / "runs" / "bad").mkdir()
    (home / "runs" / "bad" / "manifest.json").write_text(json.dumps(m))
    for name in ("generate_leaderboard", "collect_manifests"):
        proc = tool(name)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert "runs/bad/manifest.json" in proc.stderr and field in proc.stderr


def test_python_tools_work_as_the_readme_writes_them_with_any_python(home, tmp_path):
    """`tools/x.py` started by a Python without sweboard re-executes itself under .venv."""
    import shutil

    venv = tmp_path / "bare"
    subprocess.run([shutil.which("python3") or "python3", "-m", "venv", "--without-pip", str(venv)], check=True)
    proc = subprocess.run([str(venv / "bin" / "python"), str(ROOT / "tools" / "finish_run.py"), "--run-id", "nope"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "runs/nope/manifest.json: no such run" in proc.stderr, proc.stderr
    proc = subprocess.run([str(ROOT / "tools" / "plan_run.py"), "--list-models"], capture_output=True, text=True,
                          timeout=120, env={"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "SWEBOARD_HOME": str(home)})
    assert proc.returncode == 0 and "instant_empty_submit" in proc.stdout, proc.stderr
