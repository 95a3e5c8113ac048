"""The run a batch belongs to: created on its first batch, checked on every later one; a batch that
crashed or never started still gets its entry (`failed: ...`); a killed session's containers reaped."""

from __future__ import annotations

import json

from sweboard import credentials
from sweboard.batch.plan import BatchPlan
from sweboard.catalog import ModelEntry
from sweboard.errors import SweboardError
from sweboard.instances import same_selection
from sweboard.locks import file_lock
from sweboard.manifest import git_state, read_manifest, run_dir, update_manifest, utc_now, write_manifest
from sweboard.paths import runs_dir
from sweboard.runconfig import CAPACITY_SETTINGS, _comparable, config_differences
from sweboard.runners.base import BATCH_LABEL, Runner, batch_label
from sweboard.versions import tool_versions


def init_run(plan: BatchPlan, resume: bool) -> dict:
    """Create the run, or check that an existing one was started on the same data and slice; returns its
    manifest (read once here: the batch works from it).

    Under a lock beside the run folder: two batches of one new run started together must not see
    each other's half-created run as a stranger's folder."""
    with file_lock(runs_dir() / f".{plan.run_id}.init.lock"):
        return _init_run(plan, resume)


PREFLIGHT_FILES = ("preflight.json", "preflight-probe")  # what tools/preflight.py writes before the run exists


def _preflight(run_id: str) -> dict:
    """The run's preflight record (tools/preflight.py), for its manifest."""
    from sweboard.preflight_record import read_record

    rec = read_record(run_id)
    return {"preflight": rec} if rec else {}


def _init_run(plan: BatchPlan, resume: bool) -> dict:
    existing = read_manifest(plan.run_id)
    batch_dir = run_dir(plan.run_id) / "attempts" / plan.model.slug
    if existing is None:
        rd = run_dir(plan.run_id)
        if rd.exists() and any(p.name not in PREFLIGHT_FILES for p in rd.iterdir()):
            raise SweboardError(f"runs/{plan.run_id}: exists without a manifest.json; refusing to write into it")
        rd.mkdir(parents=True, exist_ok=True)
        # The exact rows agents and evaluator see: the locked data, this slice, nothing else.
        (rd / "dataset.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in plan.rows))
        manifest = {
            "schema": 1, "run_id": plan.run_id, "status": "running", "created_at": utc_now(),
            "project": git_state(), "versions": tool_versions(), "dataset_lock": plan.lock.summary(),
            "slice": {"file": str(plan.slice.path), "section": plan.slice.section, "split": plan.slice.split,
                      "instance_ids": list(plan.slice.instance_ids), "instance_ids_sha256": plan.slice.ids_hash,
                      "rationale": plan.slice.rationale, "difficulty": plan.slice.difficulty},
            "dataset_file": "dataset.jsonl", "runner_config": plan.config.to_dict(),
            "batches": {}, "evaluations": {}, **_preflight(plan.run_id),
            **({"kind": plan.run_kind} if plan.run_kind else {}),
        }
        write_manifest(plan.run_id, manifest)
        return manifest
    if existing.get("status") == "finished" and not resume:
        raise SweboardError(f"run {plan.run_id} is finished and immutable; use a new --run-id")
    preflight = _preflight(plan.run_id)
    if preflight and existing.get("preflight") != preflight["preflight"]:
        existing = update_manifest(plan.run_id, lambda m: m.update(preflight))  # repeated: its images changed
    same_selection(plan.run_id, plan.slice, existing, None)
    if existing["dataset_lock"]["revision"] != plan.lock.revision:
        raise SweboardError(f"run {plan.run_id} used dataset revision {existing['dataset_lock']['revision']}, "
                            f"not {plan.lock.revision}; use a new --run-id")
    if batch_dir.exists() and not resume:
        raise SweboardError(f"run {plan.run_id} already has a batch for {plan.model.id}; "
                            "pass --resume to finish it, or use a new --run-id")
    # A resume must not change the experiment: same settings as the batch (or run) it continues.
    batch = existing.get("batches", {}).get(plan.model.id) or {}
    recorded = batch.get("runner_config")
    if recorded is not None:
        diff = config_differences(recorded, plan.config.to_dict(), ignore=CAPACITY_SETTINGS)
    else:  # a new model in this run: same settings as the run, whichever runner it uses
        diff = config_differences(existing["runner_config"], plan.config.to_dict(),
                                  ignore=("runner", *CAPACITY_SETTINGS))
    if diff:
        old = _comparable(recorded or existing["runner_config"])
        new = _comparable(plan.config.to_dict())
        detail = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in diff)
        raise SweboardError(f"run {plan.run_id} was started with other settings ({detail}); resume with the same "
                            "settings, or use a new --run-id")
    return existing


def reap_containers(plan: BatchPlan, executor) -> int:
    """Remove the containers a killed session of this batch left, on every node the executor runs
    attempts on (this process holds the batch lock, so none of them is in use); a missing Docker is
    not this function's problem to report."""
    from sweboard.evaluation import leftover_containers

    try:
        return (executor.reap(f"{BATCH_LABEL}={batch_label(plan.run_id, plan.model.slug)}")
                + executor.reap_named(leftover_containers(plan.run_id, plan.model.id)))
    except SweboardError:
        return 0


def record_failure(run_id: str, model: ModelEntry, reason: str, runner: Runner | None = None,
                   prefix: str = "failed: ") -> None:
    """A batch that crashed still gets an entry: `failed: <reason>`, so the run cannot be finished without it."""
    existing = read_manifest(run_id)
    if existing is None or existing.get("status") == "finished":
        return
    try:
        secrets = credentials.secret_values()
    except SweboardError:
        secrets = []  # our own messages never hold a key's value; a bad credentials file is the reason itself

    def mutate(m):
        entry = m["batches"].get(model.id) or {
            "model": model.public_dict(),
            "kind": "baseline" if model.is_baseline else ("test-equipment" if model.test_equipment else "model"),
            "runner": runner.name if runner else None, "attempts": {}, "wall_seconds": 0.0}
        entry["status"] = prefix + credentials.redact(reason, secrets)
        m["batches"][model.id] = entry
    try:
        update_manifest(run_id, mutate)
    except OSError as exc:  # e.g. the disk is full: say so once, and let the original failure be reported
        import sys

        print(f"runs/{run_id}/manifest.json: could not record '{prefix}{reason[:120]}' ({exc.strerror or exc})",
              file=sys.stderr)
