"""Folding run manifests into `runs/manifests.csv` and `runs/leaderboard.csv`.

Every leaderboard row is one (run_id, model) batch and carries its run_id; its numbers come
only from that run's manifest, which points to the records, trajectories, predictions and
evaluator reports behind them. Rows from the scripted provider are labelled
`test-equipment` and are never a model's result.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from sweboard.errors import SweboardError
from sweboard.paths import runs_dir

LEADERBOARD_COLUMNS = ("model", "provider", "kind", "run_id", "dataset", "dataset_revision", "split", "instances",
                       "submitted", "resolved", "resolve_rate", "empty_patches", "errors", "wall_time_s", "status")
MANIFEST_COLUMNS = ("run_id", "run_status", "created_at", "model", "kind", "runner", "runner_version", "batch_status",
                    "attempts", "dataset", "dataset_revision", "split", "instance_ids_sha256", "project_commit",
                    "project_dirty", "swebench", "docker_engine", "peak_cpu_percent", "wall_time_s", "evaluator_run_id")


def load_manifests(root: Path | None = None) -> list[dict]:
    root = root or runs_dir()
    manifests = []
    for path in sorted(root.glob("*/manifest.json")):
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise SweboardError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if data.get("kind") == "testbench-gold-check":
            continue
        manifests.append(data)
    return manifests


def leaderboard_rows(manifests: list[dict]) -> list[dict]:
    rows = []
    for m in manifests:
        for model_id, batch in m.get("batches", {}).items():
            ev = m.get("evaluations", {}).get(model_id)
            n = len(m["slice"]["instance_ids"])
            attempts = [a for per in batch["attempts"].values() for a in per]
            submitted = sum(1 for per in batch["attempts"].values() if any(a["status"] == "submitted" for a in per))
            run_errors = sum(1 for per in batch["attempts"].values() if per and all(a["status"] in ("error", "timeout") for a in per))
            row = {
                "model": model_id, "provider": batch["model"]["provider"], "kind": batch["kind"], "run_id": m["run_id"],
                "dataset": m["dataset_lock"]["repo_id"], "dataset_revision": m["dataset_lock"]["revision"][:12],
                "split": m["slice"]["split"], "instances": n, "submitted": submitted,
                "resolved": "", "resolve_rate": "", "empty_patches": "", "errors": "",
                "wall_time_s": round(batch["wall_seconds"] + (ev or {}).get("wall_seconds", 0), 1),
                "status": batch["status"],
            }
            if ev and ev.get("counts"):
                c = ev["counts"]
                row.update(resolved=c["resolved"], resolve_rate=round(c["resolved"] / n, 4) if n else "",
                           empty_patches=c["empty_patch"], errors=c["error"] + run_errors)
                if ev["status"] != "ok" and batch["status"] == "ok":
                    row["status"] = ev["status"]
            elif batch["status"] == "ok":
                row["status"] = (ev or {}).get("status", "not evaluated")
            if not attempts:
                row["status"] = batch["status"]
            rows.append(row)
    rows.sort(key=lambda r: (r["kind"] != "model", -(r["resolve_rate"] or 0) if r["resolve_rate"] != "" else 1, r["model"], r["run_id"]))
    return rows


def manifest_rows(manifests: list[dict]) -> list[dict]:
    rows = []
    for m in manifests:
        for model_id, batch in m.get("batches", {}).items():
            ev = m.get("evaluations", {}).get(model_id) or {}
            rows.append({
                "run_id": m["run_id"], "run_status": m.get("status"), "created_at": m.get("created_at"),
                "model": model_id, "kind": batch["kind"], "runner": batch["runner"],
                "runner_version": batch.get("runner_version"), "batch_status": batch["status"],
                "attempts": sum(len(v) for v in batch["attempts"].values()),
                "dataset": m["dataset_lock"]["repo_id"], "dataset_revision": m["dataset_lock"]["revision"],
                "split": m["slice"]["split"], "instance_ids_sha256": m["slice"]["instance_ids_sha256"],
                "project_commit": m["project"].get("commit"), "project_dirty": m["project"].get("dirty"),
                "swebench": m["versions"].get("swebench"), "docker_engine": m["versions"].get("docker_engine"),
                "peak_cpu_percent": max(filter(None, [batch.get("peak_cpu_percent"), ev.get("peak_cpu_percent")]), default=""),
                "wall_time_s": batch["wall_seconds"],
                "evaluator_run_id": (ev.get("evaluator") or {}).get("run_id", ""),
            })
    return rows


def write_csv(path: Path, columns: tuple[str, ...], rows: list[dict]) -> Path:
    """Write atomically: an analyst with the old file open never sees a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
    return path
