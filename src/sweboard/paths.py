"""Where the project's files live.

Everything is relative to the project root (the folder holding `config/`), which is
`SWEBOARD_HOME` if set, else the checkout this package was installed from. Tests point
`SWEBOARD_HOME` at a scratch copy so they never touch the real `runs/`.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
TASKSET_DIR = PACKAGE_DIR / "testbench" / "taskset"


def project_root() -> Path:
    env = os.environ.get("SWEBOARD_HOME")
    if env:
        return Path(env).resolve()
    return PACKAGE_DIR.parent.parent


def config_dir() -> Path:
    return project_root() / "config"


def runs_dir() -> Path:
    return project_root() / "runs"


def predictions_dir() -> Path:
    return project_root() / "predictions"


def secrets_file() -> Path:
    return Path(os.environ.get("SWEBOARD_CREDENTIALS", project_root() / "secrets" / "credentials.txt"))


def cache_dir() -> Path:
    """Machine-local build cache (offline dataset, wheelhouse, image contexts): never committed."""
    return Path(os.environ.get("SWEBOARD_CACHE", Path.home() / ".cache" / "sweboard"))
