"""An attempt's folder: set aside when cut short or failed by infrastructure, and its record written once.

An attempt cut short (kill, Ctrl-C, budget) leaves no record: `--resume` moves its folder aside as
`attempt-<k>.interrupted-<n>` (scrubbed; its paid calls still count) and runs it again; a record that
says infrastructure failed is set aside as `.infra-<n>`, a damaged one as `.damaged-<n>`.
"""

from __future__ import annotations

import time
from pathlib import Path

from sweboard import credentials
from sweboard.batch.plan import BatchPlan
from sweboard.catalog import ModelEntry
from sweboard.gateway import read_calls, summarize_calls
from sweboard.manifest import run_dir, utc_now
from sweboard.outcomes import agent_failure, is_infra
from sweboard.records import RECORD, atomic_json, attempt_dir, load_record
from sweboard.runners.base import AttemptResult, Runner, scrub_files
from sweboard.validity.scan import project_of, scan


def set_aside(out: Path, reason: str = "interrupted", secrets: list[str] | None = None) -> Path | None:
    """Move an attempt folder aside, kept for the record and renamed, so the attempt can run again.

    `interrupted`: cut short (kill, Ctrl-C, budget) and left without a record;
    `infra`: its record says infrastructure failed (the task container never started, the
    provider never answered). Its paid calls stay in `calls.jsonl` and count in the usage totals.
    """
    if not out.exists() or not any(out.iterdir()):
        return None
    record, problem = load_record(out)
    if reason == "interrupted" and (record is not None or problem):
        return None
    if reason == "infra" and (record is None or not is_infra(agent_failure(record) or "")):
        return None
    scrub_files(out, secrets if secrets is not None else credentials.secret_values())  # e.g. after a kill -9
    n = 1
    while out.with_name(f"{out.name}.{reason}-{n}").exists():
        n += 1
    target = out.with_name(f"{out.name}.{reason}-{n}")
    out.rename(target)
    return target


def set_aside_interrupted(plan: BatchPlan, secrets: list[str]) -> int:
    """Every attempt a killed session left without a record, moved aside (and scrubbed) at once on
    --resume, not only when its task runs again: a resume that stops early (a failing provider, a
    budget) must not leave one behind, keys and all."""
    moved = 0
    for row in plan.rows:
        for k in range(1, plan.attempts_for(row["instance_id"])[0] + 1):
            moved += set_aside(attempt_dir(plan.run_id, plan.model, row["instance_id"], k), "interrupted",
                                secrets) is not None
    return moved


def set_aside_attempts(run_id: str, model: ModelEntry) -> list[dict]:
    """Every folder set aside for a model, with the usage its calls recorded (money spent is spent)."""
    base = run_dir(run_id) / "attempts" / model.slug
    out = []
    for folder in sorted(base.glob("*/attempt-*.*-*")):
        reason = folder.name.split(".", 1)[1].rsplit("-", 1)[0]
        out.append({"path": str(folder.relative_to(run_dir(run_id))), "reason": reason,
                    "usage": summarize_calls(read_calls(folder / "calls.jsonl"))})
    return out


def write_record(plan: BatchPlan, runner: Runner, out: Path, row: dict, k: int, seed: int, timeout: float,
                  timeout_reason: str, began: str, result: AttemptResult, secrets: list[str], log,
                  queued: float = 0.0, ran_from: float | None = None, node: dict | None = None) -> dict:
    calls = read_calls(out / "calls.jsonl")
    iid = row["instance_id"]
    record = {"run_id": plan.run_id, "model": plan.model.id, "instance_id": iid, "attempt": k, "seed": seed,
              "timeout_seconds": timeout, "timeout_reason": timeout_reason, "runner": runner.name,
              "started_at": began, "finished_at": utc_now(), **result.to_dict(),
              "queued_seconds": queued,  # waiting for a job/provider slot and the CPU guardrail: nobody's time
              # when it held its job slot (epoch seconds): what ran at once, to the millisecond
              "ran_epoch": [round(ran_from, 3), round(time.time(), 3)] if ran_from is not None else None,
              # a runner whose calls sweboard did not meter (imported predictions): usage unknown, never 0
              "gateway_calls": calls,
              "node": node,  # where it ran: host, Docker engine id, task image id (and the Ray node)
              "agent_image": row["image"],  # the image its container started from (a sanitized one, or the row's)
              # the agent's look-ups of the answer in its own commands (validity/scan.py)
              "history_flags": scan(out, result.trajectory, project_of(row.get("repo", ""))),
              "usage": summarize_calls(calls) if getattr(runner, "metered", True) else None}
    record["error"] = credentials.redact(record["error"], secrets)
    atomic_json(out / RECORD, record)
    log(f"  {iid} #{k}: {result.status}{' (' + result.error_class + ')' if result.error_class else ''} "
        f"in {result.duration_seconds or 0:.1f}s, {(record['usage'] or {}).get('model_calls', 0)} calls"
        + (f": {record['error'][:200]}" if is_infra(agent_failure(record) or "") else ""))
    return record
