"""`runs/<run_id>/manifest.json`: everything needed to trace a leaderboard cell to its run.

A run's manifest is written atomically at each step (batch, evaluation) and frozen when
the run finishes; a finished run refuses further writes. It holds no secrets: models are
recorded by id, provider, base URL and the *name* of their key variable.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from sweboard.errors import SweboardError
from sweboard.locks import file_lock
from sweboard.paths import PACKAGE_DIR, runs_dir

SCHEMA = 1


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def run_dir(run_id: str) -> Path:
    return runs_dir() / run_id


def manifest_path(run_id: str) -> Path:
    return run_dir(run_id) / "manifest.json"


def git_state() -> dict:
    """The commit of the sweboard code that ran (not of SWEBOARD_HOME), and whether it was dirty."""
    root = PACKAGE_DIR
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return {"commit": None, "dirty": None}
    if commit.returncode != 0:
        return {"commit": None, "dirty": None}
    return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}



def read_manifest(run_id: str) -> dict | None:
    path = manifest_path(run_id)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise SweboardError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def require_manifest(run_id: str) -> dict:
    """The run's manifest, or one clear line saying there is no such run."""
    data = read_manifest(run_id)
    if data is None:
        raise SweboardError(f"runs/{run_id}/manifest.json: no such run")
    return data


def write_manifest(run_id: str, data: dict) -> None:
    path = manifest_path(run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".manifest.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)


def update_manifest(run_id: str, mutate) -> dict:
    """Read-modify-write the manifest under a lock shared by processes (several batches and an
    evaluation may update one run at once); refuses once the run is finished (immutable)."""
    with file_lock(run_dir(run_id) / ".manifest.lock"):
        data = read_manifest(run_id)
        if data is None:
            raise SweboardError(f"{manifest_path(run_id)}: no such run (start it with run_model_batch)")
        if data.get("status") == "finished":
            raise SweboardError(f"run {run_id} is finished and immutable; start a new run id")
        mutate(data)
        write_manifest(run_id, data)
        return data


def append_sign_off(run_id: str, entry: dict) -> dict:
    """A finished run stays immutable except for its append-only `sign_offs`: who validated it and
    when (`sweboard.memo`). Nothing else of the manifest changes, and no entry is ever rewritten."""
    with file_lock(run_dir(run_id) / ".manifest.lock"):
        data = read_manifest(run_id)
        if data is None:
            raise SweboardError(f"{manifest_path(run_id)}: no such run")
        signs = data.setdefault("sign_offs", [])
        if not isinstance(signs, list):
            raise SweboardError(f"{manifest_path(run_id)}: sign_offs: expected a list; the manifest is damaged")
        signs.append(entry)
        write_manifest(run_id, data)
        return data


# --- CPU sampling -------------------------------------------------------------------------

def cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields), idle


class CpuSampler:
    """Samples whole-machine CPU % every `interval` s; `peak` and `mean` for the manifest."""

    def __init__(self, interval: float = 1.0):
        self.interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="cpu-sampler")

    def _loop(self) -> None:
        try:
            total0, idle0 = cpu_times()
        except OSError:
            return
        while not self._stop.wait(self.interval):
            total1, idle1 = cpu_times()
            if total1 > total0:
                self.samples.append(round(100.0 * (1 - (idle1 - idle0) / (total1 - total0)), 1))
            total0, idle0 = total1, idle1

    def start(self) -> "CpuSampler":
        self._thread.start()
        return self

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join(timeout=5)
        return self.summary()

    def summary(self) -> dict:
        if not self.samples:
            return {"peak_cpu_percent": None, "mean_cpu_percent": None, "samples": 0, "cores": os.cpu_count()}
        return {"peak_cpu_percent": max(self.samples),
                "mean_cpu_percent": round(sum(self.samples) / len(self.samples), 1),
                "samples": len(self.samples), "cores": os.cpu_count()}


@contextmanager
def sampled_cpu(result: dict):
    sampler = CpuSampler().start()
    started = time.monotonic()
    try:
        yield sampler
    finally:
        result.update(sampler.stop())
        result["wall_seconds"] = round(time.monotonic() - started, 2)
