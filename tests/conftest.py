"""Shared fixtures: a scratch project home, the Docker engine, offline images, the scripted provider."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PY = ROOT / ".venv" / "bin" / "python"
# The i0 slice (three tasks offline): tests that need any small slice name it, the default being i1's (four).
I0_SLICE = ["--instances", str(ROOT / "config" / "instances_i0.yaml")]


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A scratch SWEBOARD_HOME with the project's config/, empty runs/ and predictions/."""
    h = tmp_path / "home"
    shutil.copytree(ROOT / "config", h / "config")
    for d in ("runs", "predictions", "secrets"):
        (h / d).mkdir(parents=True)
    monkeypatch.setenv("SWEBOARD_HOME", str(h))
    monkeypatch.setenv("SWEBOARD_CREDENTIALS", str(h / "secrets" / "credentials.txt"))
    for var in ("CHUTES_API_KEY", "OPENROUTER_API_KEY", "CHUTES_BASE_URL", "OPENROUTER_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    return h


@pytest.fixture(scope="session")
def docker_engine() -> str:
    from sweboard.dockerutil import engine_version

    version = engine_version()
    if version is None:
        message = "no Docker engine answers; run tools/ensure_docker.sh (tools/run_tests.sh does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return version


@pytest.fixture(scope="session")
def offline_images(docker_engine):
    from sweboard.testbench import images

    return images.build_all(log=lambda line: print("[images]", line))


@pytest.fixture
def provider(tmp_path, monkeypatch):
    from sweboard.testbench.provider import ProviderSettings, ScriptedProvider

    settings = ProviderSettings(call_log=tmp_path / "calls.jsonl", rate_limit_failures=2, retry_after_seconds=0.5,
                                latency_seconds=0.5, hang_seconds=60, max_seconds=600)
    with ScriptedProvider(settings) as p:
        monkeypatch.setenv("SWEBOARD_SCRIPTED_BASE_URL", p.base_url)
        yield p


def assert_board_identities(path: Path) -> None:
    """What must hold on every board the suite writes: one class per attempt (the err_* columns
    add up to attempts_failed), and scores only on rows whose status is ok."""
    import csv

    from sweboard.leaderboard import SCORE_COLUMNS
    from sweboard.outcomes import ERR_COLUMNS

    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert rows, f"{path}: no rows"
    for r in rows:
        assert sum(int(r[c]) for c in ERR_COLUMNS) == int(r["attempts_failed"]), r
        for c in ("pass@1", "pass@K", "resolved", "empty_patches", "errors"):
            assert (r[c] != "") == (r["status"] == "ok"), (c, r)
        assert set(SCORE_COLUMNS) & set(r)


@pytest.fixture(scope="session")
def sweagent():
    """SWE-agent 1.x installed in this environment (tools/install_sweagent.sh); CI must have it."""
    from sweboard.runners.sweagent import SweAgentRunner

    runner = SweAgentRunner()
    if not runner.version():
        message = "SWE-agent 1.x is not installed: run tools/install_sweagent.sh (tools/run_tests.sh does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return runner


def wait_for(predicate, seconds=60.0) -> bool:
    """Poll `predicate` every 0.1 s until it holds (True) or `seconds` pass (False)."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def max_overlap(windows) -> int:
    """The most [start, end] windows open at one moment (what ran at once)."""
    events = sorted([(a, 1) for a, _ in windows] + [(b, -1) for _, b in windows])
    now = peak = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak
