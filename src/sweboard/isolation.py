"""Python children that never import from the folder they were started in.

Why: `python -m X` puts the current folder first on `sys.path`, ahead of the installed
package. A `sweboard/` (or `pip/`, `docker/`, ...) that another local user left in the
driver's folder (`/tmp`, a shared project folder) would then run as us, inside the machine's
fork host, an attempt, a grading or the Ray supervisor. So every Python child the project
starts runs in isolated mode (`-I`: no current folder or script folder on `sys.path`, no
`PYTHON*` variables, no user site) and in a working folder of its own.

Ray adds the *driver's* current folder to every worker's `sys.path` (first, ahead of
site-packages); `empty_folder()` is the private, empty folder a driver stands in while it
joins a cluster.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sweboard.errors import SweboardError


def python_argv(*args: str, python: str | None = None) -> list[str]:
    """`python -I ARGS`: the command line of an isolated Python child."""
    return [python or sys.executable, "-I", *args]


def private_folder(path: Path) -> Path:
    """`path` as a folder only we can use: created 0700 if missing; refused when it is a link, not a
    folder, not ours, or writable by others (another user could plant files in it)."""
    path.mkdir(parents=True, mode=0o700, exist_ok=True)
    st = os.lstat(path)
    if os.path.islink(path) or not os.path.isdir(path) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise SweboardError(f"{path}: not a private folder of ours (a link, another user's, or writable by others)")
    return path


def empty_folder() -> Path:
    """A private folder that holds nothing: where a Ray driver stands while it connects, so the folder
    Ray hands to every worker's `sys.path` can never hold a module."""
    from sweboard.paths import cache_dir

    folder = private_folder(cache_dir() / "empty")
    stray = next(folder.iterdir(), None)
    if stray is not None:
        raise SweboardError(f"{folder}: expected an empty folder, found {stray.name}; remove it")
    return folder
