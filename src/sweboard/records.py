"""What an attempt leaves in its folder, read and written in one place: `record.json` and `verdict.json`.

Why its own room: the batch writes records, the evaluator verdicts, the scheduler counts both for
its progress line, the export and the fold read them. Records are written once, atomically, when the
attempt ends, so a record that cannot be read was damaged from outside (a truncated copy, a hand
edit); a verdict is written once and a later, different one is kept beside it, never over it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sweboard.manifest import run_dir
from sweboard.paths import predictions_dir

RECORD = "record.json"
VERDICT = "verdict.json"
RECORD_FIELDS = ("status", "exit_status", "error_class", "duration_seconds", "usage", "patch", "trajectory")


def attempt_dir(run_id: str, model, instance_id: str, index: int) -> Path:
    return run_dir(run_id) / "attempts" / model.slug / instance_id / f"attempt-{index}"


def predictions_path(run_id: str, model, index: int = 1) -> Path:
    suffix = "" if index == 1 else f".attempt-{index}"
    return predictions_dir() / run_id / f"{model.slug}{suffix}.jsonl"


def load_record(path: Path) -> tuple[dict | None, str | None]:
    """(record, problem): the attempt's record, or None with why an existing record.json cannot be used
    (records are written atomically, so that is damage from outside: a truncated copy, a hand edit).
    Both are None when the attempt has no record."""
    file = path / RECORD
    try:
        record = json.loads(file.read_text())
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError) as exc:
        return None, f"not readable JSON ({type(exc).__name__})"
    if not isinstance(record, dict):
        return None, "not a JSON object"
    missing = [k for k in RECORD_FIELDS if k not in record]
    return (None, f"missing {', '.join(missing)}") if missing else (record, None)


def read_record(path: Path) -> dict | None:
    """An attempt's record, or None when it has none (or a damaged one)."""
    return load_record(path)[0]


def atomic_json(path: Path, data: dict) -> None:
    """Write `data` as JSON so that a reader sees the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def write_verdict(attempt_dir: Path, verdict: dict) -> dict:
    """Write an attempt's verdict once. A later verdict for the same attempt never overwrites it:
    if it agrees it is dropped; if it disagrees (same patch, different word) it is kept beside
    the first as `verdict.conflict-<evaluator run id>.json` and the attempt is flagged."""
    existing = read_verdict(attempt_dir)
    if existing is None:
        atomic_json(attempt_dir / VERDICT, verdict)
        return verdict
    same = (existing["verdict"], existing.get("error_class", "")) == (verdict["verdict"], verdict.get("error_class", ""))
    if not same:
        atomic_json(attempt_dir / f"verdict.conflict-{verdict['evaluator']['run_id']}.json", verdict)
    return existing


def verdict_conflicts(attempt_dir: Path) -> list[str]:
    return sorted(p.name for p in attempt_dir.glob("verdict.conflict-*.json"))


def read_verdict(attempt_dir: Path) -> dict | None:
    """An attempt's verdict, or None when it has not been graded (or its verdict cannot be read)."""
    try:
        return json.loads((attempt_dir / VERDICT).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def write_regrade(attempt_dir: Path, n: int, verdict: dict) -> dict:
    """An attempt's n-th independent regrading (`verdict.regrade-<n>.json`), beside its verdict; written once."""
    path = attempt_dir / f"verdict.regrade-{n}.json"
    if not path.exists():
        atomic_json(path, {**verdict, "regrade": n})
    return verdict


def read_regrades(attempt_dir: Path) -> list[dict]:
    """Its regradings, in order (the first grading is `verdict.json`)."""
    out = []
    for n in range(1, 10):
        try:
            out.append(json.loads((attempt_dir / f"verdict.regrade-{n}.json").read_text()))
        except FileNotFoundError:
            break
        except (OSError, ValueError):
            continue
    return out
