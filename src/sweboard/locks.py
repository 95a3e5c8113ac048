"""Exclusive locks shared by processes and threads: `with file_lock(path): ...`.

Why both: `fcntl.flock` serialises processes (two drivers, a driver and a manual
`run_evaluation.py`), but two threads of one process holding separate descriptors would also
exclude each other only by luck of the platform; a per-path thread lock makes it certain.

Why private files: anyone who can open a lock file can `flock` it and stall every batch
silently. Lock files are created 0600 (an older, wider one is narrowed), never through a link,
and their folders 0700 where sweboard makes them; the holder writes its PID into the file, and a
wait longer than `NOTICE_SECONDS` says once what it waits on and who holds it.
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

NOTICE_SECONDS = 5.0
_thread_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) if missing; a folder sweboard creates is 0700."""
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def open_private(path: Path) -> int:
    """Open (creating) a lock file for this user only: 0600, not through a symlink."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    st = os.fstat(fd)
    if st.st_mode & 0o077 and st.st_uid == os.getuid():
        os.fchmod(fd, 0o600)
    return fd


def holder(path: Path) -> str:
    """Who holds a lock, as its holder wrote it ("PID 123"), or "another process"."""
    try:
        text = path.read_text().strip()
    except OSError:
        return "another process"
    return f"PID {text}" if text.isdigit() else "another process"


def acquire(fd: int, path: Path, say=None) -> None:
    """flock `fd` exclusively (blocking: the ledger's lock is on every model call's path, so no
    polling); if the wait passes NOTICE_SECONDS, say once what is waited on."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        notice = threading.Timer(NOTICE_SECONDS, lambda: (say or _stderr)(f"waiting for {path} (held by {holder(path)})"))
        notice.daemon = True
        notice.start()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        finally:
            notice.cancel()
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextmanager
def file_lock(path: Path, say=None):
    with _guard:
        tlock = _thread_locks.setdefault(str(path), threading.Lock())
    with tlock:
        fd = open_private(path)
        try:
            acquire(fd, path, say)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


@contextmanager
def exclusive_or_refuse(path: Path, refusal: str):
    """Hold `path` exclusively for the block, or raise SweboardError(refusal) at once if another process
    (or thread) holds it. The kernel releases it if the holder dies, kill -9 included."""
    from sweboard.errors import SweboardError

    fd = open_private(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SweboardError(refusal) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
