"""Values handed back by a stranger (a worker node, a task container, an imported file): typed, bounded,
and paths confined to their folder.

Why one place: a field like `record.json`'s `trajectory` was used as a path wherever it was read;
one that named `../../secrets/credentials.txt` (or an absolute path, or a link) made the export
publish the file it pointed at. Every such value is checked here before anything opens it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path, PurePosixPath

MAX_TEXT = 1 << 20  # one string field: a patch, an error line (a patch is rarely more than a few KB)


def text(value, limit: int = MAX_TEXT, default: str = "") -> str:
    """A string of at most `limit` characters (longer is cut), or `default` for anything else."""
    return value[:limit] if isinstance(value, str) else default


def message_text(content, sep: str = "") -> str:
    """A chat message's (or a trajectory step's) content as text: a string, or the text parts of a list
    joined by `sep`; anything else is empty."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return sep.join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def finite(value, low: float = 0.0, high: float = 1e9) -> float | None:
    """A finite number within [low, high], else None (booleans are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value) if low <= value <= high else None


def relative_name(value, limit: int = 500) -> str | None:
    """A relative POSIX path with no `..`, no absolute start, no empty or NUL part; else None."""
    if not isinstance(value, str) or not value or len(value) > limit or "\0" in value or "\\" in value:
        return None
    path = PurePosixPath(value)
    if path.is_absolute() or any(part in ("..", "") for part in path.parts) or value.startswith("~"):
        return None
    return path.as_posix()


def confined_file(folder: Path, value) -> Path | None:
    """`folder / value` when `value` is a relative name inside `folder` that is a regular file reached
    through no link (the file itself and every folder on the way); else None."""
    name = relative_name(value)
    if name is None:
        return None
    here = folder
    for part in PurePosixPath(name).parts:
        here = here / part
        try:
            st = os.lstat(here)
        except OSError:
            return None
        if os.path.islink(here):
            return None
    import stat

    return here if stat.S_ISREG(st.st_mode) else None
