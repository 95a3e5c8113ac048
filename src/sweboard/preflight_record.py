"""What a passed preflight left (`runs/<run_id>/preflight.json`), and whether it still holds.

Why apart from the preflight itself: the batch copies it into the run's manifest and the request's
validation compares it with the run asked for; neither runs a preflight.
"""

from __future__ import annotations

import json
from pathlib import Path

from sweboard.manifest import run_dir


RECORD = "preflight.json"


def record_path(run_id: str) -> Path:
    return run_dir(run_id) / RECORD


def read_record(run_id: str) -> dict | None:
    try:
        data = json.loads(record_path(run_id).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def image_ids(rows: list[dict]) -> dict[str, str | None]:
    from sweboard.dockerutil import image_id

    return {image: image_id(image) for image in sorted({r["image"] for r in rows})}


def still_valid(run_id: str, rows: list[dict], runner: str, ids_hash: str | None = None) -> dict | None:
    """The recorded preflight, when it passed for these tasks (`ids_hash`), this runner and every task
    image is the same one."""
    rec = read_record(run_id)
    if not rec or not rec.get("passed") or rec.get("runner") != runner:
        return None
    if ids_hash is not None and rec.get("instance_ids_sha256") != ids_hash:
        return None
    return rec if rec.get("images") == image_ids(rows) else None
