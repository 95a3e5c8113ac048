"""Is a process alive, and is it the one we mean: read from `/proc`, never guessed from `kill(pid, 0)`.

Why not `kill(pid, 0)`: it succeeds for a zombie (a process that has exited but whose parent has not
reaped it yet). Under a PID 1 that reaps slowly or never (containers, CI), a driver killed with -9
stays a zombie, and a claim or a ledger reservation that trusted it would never be freed. A process
in state `Z` (zombie) or `X` (dead) is dead here. The start time (`/proc/PID/stat` field 22, clock
ticks since boot) tells a reused PID from the process that held it.
"""

from __future__ import annotations

from pathlib import Path

DEAD_STATES = ("Z", "X", "x")


def _stat_fields(pid: int) -> list[str] | None:
    """The fields after the command name in /proc/PID/stat (state first), or None."""
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None


def process_start(pid: int) -> int | None:
    """The start time of a *live* process (None when it is gone, a zombie, or unreadable): with the pid
    it names one process, even after the pid is reused."""
    fields = _stat_fields(pid)
    if not fields or fields[0] in DEAD_STATES:
        return None
    try:
        return int(fields[19])
    except (ValueError, IndexError):
        return None


def alive(pid: int) -> bool:
    """The process exists and has not exited (a zombie has)."""
    return process_start(pid) is not None
