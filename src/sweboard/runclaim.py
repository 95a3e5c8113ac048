"""Who is running a run: one driver at a time per run id, and `--resume` only of a run that exists.

Why: a second `--resume` of a run in progress would start a second canary, provider and fold
over the first; a mistyped `--resume --run-id` would start (and pay for) a run nobody meant.
The claim is a small file `runs/.<run_id>.claim` holding the driver's PID and that process's
start time: held while that process lives, free the moment it is gone (even after kill -9), and
never fooled by a reused PID. The check-and-write happens under a file lock.
"""

from __future__ import annotations

import difflib
import json
import os

from sweboard.errors import SweboardError
from sweboard.processes import process_start
from sweboard.locks import file_lock
from sweboard.paths import runs_dir


def claim_path(run_id: str):
    return runs_dir() / f".{run_id}.claim"


def holder(run_id: str) -> int | None:
    """PID of the live process that holds the run, or None."""
    try:
        data = json.loads(claim_path(run_id).read_text())
        pid, start = int(data["pid"]), int(data["start"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if process_start(pid) == start else None


def claim(run_id: str, pid: int) -> None:
    """Hold the run for `pid` (the driver), or say who holds it."""
    start = process_start(pid)
    if start is None:
        raise SweboardError(f"claim of run {run_id}: no process {pid}")
    with file_lock(runs_dir() / f".{run_id}.claim.lock"):
        other = holder(run_id)
        if other is not None and other != pid:
            raise SweboardError(f"run {run_id} is being run by PID {other}; wait for it to finish (or stop it), "
                                "then --resume")
        tmp = claim_path(run_id).with_name(f".{run_id}.claim.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"pid": pid, "start": start}))
        os.replace(tmp, claim_path(run_id))


def existing_runs() -> list[str]:
    root = runs_dir()
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.is_dir() else []


def require_resumable(run_id: str) -> None:
    """`--resume` continues a run that was started (a manifest, or a preflight record); never a new one."""
    rd = runs_dir() / run_id
    if (rd / "manifest.json").is_file() or (rd / "preflight.json").is_file():
        return
    near = difflib.get_close_matches(run_id, existing_runs(), n=3, cutoff=0.5)
    hint = f"; nearest: {', '.join(near)}" if near else "; runs/ has none like it"
    raise SweboardError(f"--resume: there is no run {run_id!r} to resume{hint} (leave out --resume to start it)")
