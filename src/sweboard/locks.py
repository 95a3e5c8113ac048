"""An exclusive lock shared by processes and threads: `with file_lock(path): ...`.

Why both: `fcntl.flock` serialises processes (two drivers, a driver and a manual
`run_evaluation.py`), but two threads of one process holding separate descriptors would also
exclude each other only by luck of the platform; a per-path thread lock makes it certain.
"""

from __future__ import annotations

import fcntl
import threading
from contextlib import contextmanager
from pathlib import Path

_thread_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


@contextmanager
def file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with _guard:
        tlock = _thread_locks.setdefault(str(path), threading.Lock())
    with tlock, open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def exclusive_or_refuse(path: Path, refusal: str):
    """Hold `path` exclusively for the block, or raise SweboardError(refusal) at once if another process
    (or thread) holds it. The kernel releases it if the holder dies, kill -9 included."""
    from sweboard.errors import SweboardError

    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise SweboardError(refusal) from None
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
