"""One model over one slice: schedule attempts, hand each to a runner, record everything.

The harness owns the loop. Each attempt (task × model × try) gets its own folder, seed,
container and `record.json`; the record is written once, atomically, when the attempt
ends, and is the unit of resume: `--resume` skips every attempt that has one, so a
finished attempt's model calls are never repeated, whatever interrupted the run.
"""

from __future__ import annotations

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sweboard import credentials
from sweboard.catalog import ModelEntry
from sweboard.dataset_lock import DatasetLock
from sweboard.errors import SweboardError
from sweboard.instances import Slice
from sweboard.manifest import (git_state, read_manifest, run_dir, sampled_cpu, tool_versions, update_manifest,
                               utc_now, write_manifest)
from sweboard.paths import predictions_dir
from sweboard.runconfig import RunnerConfig, max_workers
from sweboard.runners.base import Attempt, AttemptResult, Runner
from sweboard.runners.baseline import BaselineRunner

RECORD = "record.json"


@dataclass(frozen=True)
class BatchPlan:
    run_id: str
    model: ModelEntry
    slice: Slice
    lock: DatasetLock
    rows: list[dict]
    config: RunnerConfig
    attempts_per_task: int = 1


def attempt_dir(run_id: str, model: ModelEntry, instance_id: str, index: int) -> Path:
    return run_dir(run_id) / "attempts" / model.slug / instance_id / f"attempt-{index}"


def predictions_path(run_id: str, model: ModelEntry) -> Path:
    return predictions_dir() / run_id / f"{model.slug}.jsonl"


def read_record(path: Path) -> dict | None:
    try:
        return json.loads((path / RECORD).read_text())
    except (OSError, json.JSONDecodeError):
        return None  # a half-written record never exists (atomic write); unreadable means "not finished"


def write_record(path: Path, record: dict) -> None:
    tmp = path / f".{RECORD}.tmp"
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, path / RECORD)


def init_run(plan: BatchPlan, resume: bool) -> None:
    """Create the run, or check that an existing one was started on the same data and slice."""
    existing = read_manifest(plan.run_id)
    batch_dir = run_dir(plan.run_id) / "attempts" / plan.model.slug
    if existing is None:
        if run_dir(plan.run_id).exists() and any(run_dir(plan.run_id).iterdir()):
            raise SweboardError(f"runs/{plan.run_id}: exists without a manifest.json; refusing to write into it")
        rd = run_dir(plan.run_id)
        rd.mkdir(parents=True, exist_ok=True)
        # The exact rows agents and evaluator see: the locked data, this slice, nothing else.
        (rd / "dataset.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in plan.rows))
        write_manifest(plan.run_id, {
            "schema": 1,
            "run_id": plan.run_id,
            "status": "running",
            "created_at": utc_now(),
            "project": git_state(),
            "versions": tool_versions(),
            "dataset_lock": plan.lock.summary(),
            "slice": {"file": str(plan.slice.path), "section": plan.slice.section, "split": plan.slice.split,
                      "instance_ids": list(plan.slice.instance_ids), "instance_ids_sha256": plan.slice.ids_hash},
            "dataset_file": "dataset.jsonl",
            "runner_config": plan.config.to_dict(),
            "batches": {},
            "evaluations": {},
        })
        return
    if existing.get("status") == "finished" and not resume:
        raise SweboardError(f"run {plan.run_id} is finished and immutable; use a new --run-id (or --resume to check it is complete)")
    if existing["slice"]["instance_ids_sha256"] != plan.slice.ids_hash:
        raise SweboardError(f"run {plan.run_id} was started on another instance list ({existing['slice']['file']} "
                            f"[{existing['slice']['section']}]); use a new --run-id")
    if existing["dataset_lock"]["revision"] != plan.lock.revision:
        raise SweboardError(f"run {plan.run_id} used dataset revision {existing['dataset_lock']['revision']}, "
                            f"not {plan.lock.revision}; use a new --run-id")
    if batch_dir.exists() and not resume:
        raise SweboardError(f"run {plan.run_id} already has a batch for {plan.model.id}; "
                            "pass --resume to finish it, or use a new --run-id")


def _api_key(model: ModelEntry) -> str | None:
    if model.is_baseline:
        return None
    env = model.provider.api_key_env
    if env is None:
        return "sk-no-key-needed"  # the scripted provider ignores it; litellm insists on one
    key = credentials.get_key(env)
    if not key:
        raise SweboardError(f"model {model.id}: {env} is not set in secrets/credentials.txt or the environment")
    return key


def run_batch(plan: BatchPlan, runner: Runner, resume: bool = False, log=print) -> dict:
    """Run every missing attempt of the plan; returns the batch entry written to the manifest."""
    init_run(plan, resume)
    manifest = read_manifest(plan.run_id)
    if manifest.get("status") == "finished":
        log(f"run {plan.run_id} is finished; nothing to do")
        return manifest["batches"].get(plan.model.id, {})
    if plan.model.is_baseline:
        runner = BaselineRunner()
    if not plan.model.enabled:
        raise SweboardError(f"model {plan.model.id} is disabled in the catalog (enabled: false)")
    api_key = _api_key(plan.model)
    secrets = credentials.secret_values()
    if api_key and api_key not in secrets and len(api_key) >= 6 and api_key != "sk-no-key-needed":
        secrets.append(api_key)

    todo: list[Attempt] = []
    for row in plan.rows:
        for k in range(1, plan.attempts_per_task + 1):
            out = attempt_dir(plan.run_id, plan.model, row["instance_id"], k)
            if read_record(out) is not None:
                continue
            todo.append(Attempt(plan.run_id, plan.model, row, k, plan.config.seed + k - 1,
                                plan.config.attempt_timeout_seconds, out, plan.config))
    total = len(plan.rows) * plan.attempts_per_task
    log(f"{plan.model.id}: {total - len(todo)} of {total} attempts already recorded; running {len(todo)} "
        f"with {runner.name} ({runner.version() or 'version unknown'})")

    unavailable = threading.Event()
    started_at = utc_now()
    stats: dict = {}

    def one(attempt: Attempt) -> None:
        if unavailable.is_set():
            return
        attempt.out_dir.mkdir(parents=True, exist_ok=True)
        began = utc_now()
        try:
            result = runner.run(attempt, api_key, secrets)
        except SweboardError as exc:
            result = AttemptResult("error", "SweboardError", error_class="agent_error", error=str(exc))
        record = {"run_id": plan.run_id, "model": plan.model.id, "instance_id": attempt.instance_id,
                  "attempt": attempt.index, "seed": attempt.seed, "timeout_seconds": attempt.timeout_seconds,
                  "runner": runner.name, "started_at": began, "finished_at": utc_now(), **result.to_dict()}
        record["error"] = credentials.redact(record["error"], secrets)
        write_record(attempt.out_dir, record)
        log(f"  {attempt.instance_id} #{attempt.index}: {result.status}"
            f"{' (' + result.error_class + ')' if result.error_class else ''} in {result.duration_seconds:.1f}s")
        if result.error_class == "model_unavailable":
            unavailable.set()

    workers = max(1, min(plan.config.workers, max_workers(), plan.model.provider.max_concurrency))
    with sampled_cpu(stats):
        if workers == 1:
            for attempt in todo:
                one(attempt)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(one, todo))

    entry = summarize(plan, runner, started_at, stats, unavailable.is_set())
    update_manifest(plan.run_id, lambda m: m["batches"].__setitem__(plan.model.id, _merge(m["batches"].get(plan.model.id), entry)))
    return entry


def _merge(previous: dict | None, entry: dict) -> dict:
    """On resume, keep the first start time and add up wall time across sessions."""
    if previous:
        entry["started_at"] = previous.get("started_at", entry["started_at"])
        entry["wall_seconds"] = round(previous.get("wall_seconds", 0) + entry["wall_seconds"], 2)
        entry["peak_cpu_percent"] = max(filter(None, [previous.get("peak_cpu_percent"), entry["peak_cpu_percent"]]), default=None)
        entry["sessions"] = previous.get("sessions", 1) + 1
    return entry


def summarize(plan: BatchPlan, runner: Runner, started_at: str, stats: dict, unavailable: bool) -> dict:
    """Build the batch's manifest entry and its predictions file from the attempt records."""
    attempts: dict[str, list[dict]] = {}
    predictions = []
    for row in plan.rows:
        iid = row["instance_id"]
        attempts[iid] = []
        for k in range(1, plan.attempts_per_task + 1):
            out = attempt_dir(plan.run_id, plan.model, iid, k)
            rec = read_record(out)
            if rec is None:
                continue
            rel = out.relative_to(run_dir(plan.run_id))
            attempts[iid].append({
                "attempt": k, "status": rec["status"], "exit_status": rec["exit_status"],
                "error_class": rec["error_class"], "duration_seconds": round(rec["duration_seconds"], 2),
                "model_calls": len(rec["model_calls"]), "record": str(rel / RECORD),
                "trajectory": str(rel / rec["trajectory"]) if rec["trajectory"] else None,
            })
        submitted = [a for a in attempts[iid] if a["status"] in ("submitted", "empty")]
        chosen = submitted[0] if submitted else (attempts[iid][0] if attempts[iid] else None)
        if chosen is not None:
            rec = read_record(attempt_dir(plan.run_id, plan.model, iid, chosen["attempt"]))
            predictions.append({"instance_id": iid, "model_name_or_path": plan.model.id, "model_patch": rec["patch"],
                                "attempt": chosen["attempt"], "status": rec["status"]})
    preds = predictions_path(plan.run_id, plan.model)
    preds.parent.mkdir(parents=True, exist_ok=True)
    tmp = preds.with_name(f".{preds.name}.tmp")
    tmp.write_text("".join(json.dumps(p) + "\n" for p in predictions))
    os.replace(tmp, preds)
    recorded = sum(len(v) for v in attempts.values())
    expected = len(plan.rows) * plan.attempts_per_task
    status = "ok" if recorded == expected else f"incomplete: {recorded} of {expected} attempts"
    if unavailable:
        status = "skipped: model unavailable (provider answered 404 / unknown model)"
    return {
        "model": plan.model.public_dict(),
        "kind": "baseline" if plan.model.is_baseline else ("test-equipment" if plan.model.test_equipment else "model"),
        "runner": runner.name,
        "runner_version": runner.version(),
        "attempts_per_task": plan.attempts_per_task,
        "status": status,
        "started_at": started_at,
        "finished_at": utc_now(),
        "wall_seconds": stats.get("wall_seconds", 0.0),
        "peak_cpu_percent": stats.get("peak_cpu_percent"),
        "mean_cpu_percent": stats.get("mean_cpu_percent"),
        "predictions": str(preds.relative_to(predictions_dir().parent)),
        "attempts": attempts,
    }
