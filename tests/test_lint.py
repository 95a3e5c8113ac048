"""Static checks a user's CI would run: shellcheck on every driver, actionlint on the smoke workflow."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def linter(name: str) -> str:
    path = BIN / name if (BIN / name).exists() else shutil.which(name)
    if not path:
        pytest.fail(f"{name} is not installed (pip install -e '.[test]' brings it)")
    return str(path)


def test_every_shell_driver_passes_shellcheck():
    scripts = sorted(str(p) for p in [*ROOT.glob("tools/*.sh"), *ROOT.glob("tools/lib/*.sh"), ROOT / ".ci" / "run"])
    proc = subprocess.run([linter("shellcheck"), "-x", "-s", "bash", *scripts], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_smoke_workflow_passes_actionlint_and_runs_the_offline_bootstrap():
    workflow = ROOT / ".github" / "workflows" / "smoke.yml"
    env = {"PATH": f"{BIN}:/usr/bin:/bin"}  # actionlint shellchecks the run: steps with the same shellcheck
    proc = subprocess.run([linter("actionlint"), str(workflow)], capture_output=True, text=True, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    job = yaml.safe_load(workflow.read_text())["jobs"]["bootstrap-i0-offline"]
    runs = " ".join(step.get("run", "") for step in job["steps"])
    assert "tools/bootstrap_i0.sh --offline" in runs
    upload = next(step for step in job["steps"] if str(step.get("uses", "")).startswith("actions/upload-artifact"))
    paths = upload["with"]["path"]
    assert "runs/leaderboard.csv" in paths and "runs/leaderboard.html" in paths and "manifest.json" in paths


def test_actionlint_would_catch_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n"
                   "        with: {fetch-depht: 1}\n")
    proc = subprocess.run([linter("actionlint"), str(bad)], capture_output=True, text=True)
    assert proc.returncode != 0 and "fetch-depht" in proc.stdout


def test_imports_point_down_the_layers():
    """import-linter's layers contract (pyproject.toml; docs/architecture.md says why each room sits where)."""
    proc = subprocess.run([linter("lint-imports")], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and "1 kept, 0 broken" in proc.stdout, proc.stdout[-3000:]


def test_the_layers_contract_would_catch_an_upward_import(tmp_path):
    """The contract is not vacuous: a lower room importing a higher one breaks it."""
    config = tmp_path / "contract.toml"
    text = (ROOT / "pyproject.toml").read_text()
    config.write_text(text[text.index("[tool.importlinter]"):].replace(
        '"sweboard.attempt",', '"sweboard.attempt",\n    "sweboard.batch",', 1).replace(
        '"sweboard.scheduler | sweboard.batch",', '"sweboard.scheduler",', 1))
    proc = subprocess.run([linter("lint-imports"), "--config", str(config)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode != 0 and "broken" in proc.stdout, proc.stdout[-2000:]
