"""Which tools ran: package versions, the Docker engine, and where SWE-agent came from.

Why its own room: the run's manifest records them, the SWE-agent runner names its own version by
them, and neither should import the other.
"""

from __future__ import annotations

import json
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from sweboard import __version__

SWEAGENT_SOURCE_RECORD = ".sweagent-source.json"  # written by tools/install_sweagent.sh into .venv


def _pkg(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _sweagent_source() -> dict | None:
    """Where SWE-agent came from (tools/install_sweagent.sh's record: source, commit, version)."""
    if _pkg("sweagent") is None:
        return None
    record = installed_sweagent_source()
    return {k: record.get(k) for k in ("source", "commit", "version", "sha256")} if record else None


def tool_versions(runner_version: str | None = None, runner: str | None = None) -> dict:
    from sweboard.dockerutil import engine_version

    return {
        "python": platform.python_version(),
        "sweboard": __version__,
        "swebench": _pkg("swebench"),
        "mini-swe-agent": _pkg("mini-swe-agent"),
        "sweagent": _pkg("sweagent"),
        "sweagent_source": _sweagent_source(),
        "litellm": _pkg("litellm"),
        "docker_engine": engine_version(),
        "runner": runner,
        "runner_version": runner_version,
    }


def installed_sweagent_source() -> dict | None:
    """What tools/install_sweagent.sh recorded (source, commit, version), or None."""
    try:
        data = json.loads((Path(sys.prefix) / SWEAGENT_SOURCE_RECORD).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
