"""A batch's manifest entry and its predictions files, built from the attempt records."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sweboard.batch.folders import set_aside_attempts
from sweboard.batch.plan import BatchPlan
from sweboard.manifest import run_dir, utc_now
from sweboard.outcomes import agent_failure, is_infra
from sweboard.paths import predictions_dir
from sweboard.records import RECORD, attempt_dir, predictions_path, read_record, read_verdict
from sweboard.runners.base import Runner
from sweboard.untrusted import confined_file


def merge_sessions(previous: dict | None, entry: dict) -> dict:
    """On resume, keep the first start time and add up wall time across sessions."""
    if previous:
        entry["started_at"] = previous.get("started_at", entry["started_at"])
        entry["wall_seconds"] = round(previous.get("wall_seconds", 0) + entry["wall_seconds"], 2)
        entry["peak_cpu_percent"] = max(filter(None, [previous.get("peak_cpu_percent"), entry["peak_cpu_percent"]]), default=None)
        entry["sessions"] = previous.get("sessions", 1) + 1
    return entry


def summarize(plan: BatchPlan, runner: Runner, started_at: str, stats: dict, stop_reason: str | None) -> dict:
    """Build the batch's manifest entry and its predictions files from the attempt records."""
    attempts: dict[str, list[dict]] = {}
    by_index: dict[int, list[dict]] = {}
    complete = True
    for row in plan.rows:
        iid = row["instance_id"]
        attempts[iid] = []
        k_max, k_reason = plan.attempts_for(iid)
        for k in range(1, k_max + 1):
            out = attempt_dir(plan.run_id, plan.model, iid, k)
            rec = read_record(out)
            if rec is None:
                break
            rel = out.relative_to(run_dir(plan.run_id))
            attempts[iid].append({
                "attempt": k, "status": rec["status"], "exit_status": rec["exit_status"],
                "error_class": rec["error_class"], "duration_seconds": (round(rec["duration_seconds"], 2)
                                                                            if rec["duration_seconds"] is not None else None),
                "overhead_seconds": rec.get("overhead_seconds"),
                "usage": rec["usage"], "record": str(rel / RECORD),
                "trajectory": str(rel / rec["trajectory"]) if confined_file(out, rec["trajectory"]) else None,
                "history_flags": rec.get("history_flags") or [],
                **({"agent_image": rec["agent_image"]} if rec.get("agent_image") else {}),
                **({"k_reason": k_reason} if k_reason else {}),
            })
            by_index.setdefault(k, []).append({"instance_id": iid, "model_name_or_path": plan.model.id,
                                               "model_patch": rec["patch"], "attempt": k})
        if not task_complete(plan, iid, attempts[iid]):
            complete = False
    for k, preds in by_index.items():
        path = predictions_path(plan.run_id, plan.model, k)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("".join(json.dumps(p) + "\n" for p in preds))
        os.replace(tmp, path)
    status = stop_reason or ("ok" if complete else "incomplete")
    return {
        "model": plan.model.public_dict(),
        "kind": "baseline" if plan.model.is_baseline else ("test-equipment" if plan.model.test_equipment else "model"),
        "runner": runner.name, "runner_version": runner.version(),
        **({"runner_images": runner.image_record()} if hasattr(runner, "image_record") else {}),
        "attempts_per_task": max(plan.attempts_for(r["instance_id"])[0] for r in plan.rows),
        "stop_after_resolved": plan.config.stop_after_resolved,
        "status": status, "started_at": started_at, "finished_at": utc_now(),
        "wall_seconds": stats.get("wall_seconds", 0.0),
        "peak_cpu_percent": stats.get("peak_cpu_percent"), "mean_cpu_percent": stats.get("mean_cpu_percent"),
        "predictions": str(predictions_path(plan.run_id, plan.model).relative_to(predictions_dir().parent)),
        "runner_config": plan.config.to_dict(),
        "attempts": attempts,
        "set_aside": set_aside_attempts(plan.run_id, plan.model),
        **({"image_history": plan.history} if plan.history else {}),
    }


def task_complete(plan: BatchPlan, iid: str, attempts: list[dict]) -> bool:
    """Done under the batch's policy: K attempts, or (stopping early) a resolved one; never with an
    infrastructure failure standing in for an attempt."""
    if not attempts or is_infra(agent_failure(attempts[-1]) or ""):
        return False
    k_max, _ = plan.attempts_for(iid)
    if len(attempts) >= k_max:
        return True
    if not plan.config.stop_after_resolved:
        return False
    last = run_dir(plan.run_id) / Path(attempts[-1]["record"]).parent
    verdict = read_verdict(last)
    return bool(verdict and verdict["verdict"] == "resolved")
