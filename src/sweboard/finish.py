"""Finishing a run: once every batch ran and every attempt is graded, the run is marked finished and
becomes immutable. A run with a failed or missing batch, a failed evaluation or conflicting verdicts
is refused (one line); a stopped or incomplete one is left open for `--resume`.
"""

from __future__ import annotations

from sweboard.errors import SweboardError
from sweboard.evaluation import evaluation_entry, pending_attempts
from sweboard.manifest import require_manifest, update_manifest, utc_now


def readiness(run_id: str, expect_models: list[str]) -> tuple[str, dict]:
    """("finished" | "open" | "ready", manifest): raises with why a run cannot be finished."""
    m = require_manifest(run_id)
    if m.get("status") == "finished":
        return "finished", m
    missing = [x for x in expect_models if x not in m["batches"]]
    failed = {k: b["status"] for k, b in m["batches"].items() if b["status"].startswith("failed")}
    if missing or failed:
        raise SweboardError(f"run {run_id}: not finished: " + "; ".join(
            ([f"no batch for {missing}"] if missing else []) + [f"{k} {v}" for k, v in failed.items()])
            + " (rerun the model with --resume)")
    if any(b["status"].startswith(("stopped", "incomplete")) for b in m["batches"].values()):
        return "open", m
    open_flips = []
    for model_id in m["batches"]:
        entry = evaluation_entry(run_id, model_id)
        open_flips += [f"{model_id} {a}" for a in entry["pending"] if a in set(entry.get("grader_flips", []))]
        if entry["failures"]:
            raise SweboardError(f"run {run_id}: the evaluation of {model_id} failed ({entry['failures'][-1]['log']}); "
                                f"rerun tools/run_evaluation.py --run-id {run_id}")
        if entry["verdict_conflicts"]:
            raise SweboardError(f"run {run_id}: {model_id} has conflicting verdicts for {entry['verdict_conflicts']}; "
                                "resolve them before finishing")
    if open_flips:
        raise SweboardError(f"run {run_id}: grader flips wait for a third grading ({', '.join(open_flips[:3])}); "
                            f"rerun tools/run_evaluation.py --run-id {run_id}")
    ungraded = [k for k in m["batches"] if k not in m["evaluations"] or pending_attempts(run_id, k)]
    if ungraded:
        raise SweboardError(f"run {run_id}: attempts not graded yet for {ungraded}; run tools/run_evaluation.py first")
    return "ready", m


def finish(run_id: str, expect_models: list[str], dry_run: bool = False, log=print) -> str:
    """Mark the run finished when it is ready; returns its state ("finished", "open", "ready" on a dry run)."""
    state, m = readiness(run_id, expect_models)
    if state == "finished":
        log(f"run {run_id}: already finished")
        return state
    if state == "open":
        log(f"run {run_id}: left open for --resume (not finished): "
            f"{ {k: b['status'] for k, b in m['batches'].items() if b['status'].startswith(('stopped', 'incomplete'))} }")
        return state
    if dry_run:
        log(f"run {run_id}: ready to finish")
        return state

    def mark(data):
        data["status"] = "finished"
        data["finished_at"] = utc_now()
        peaks = [b.get("peak_cpu_percent") for b in data["batches"].values()]
        peaks += [e.get("peak_cpu_percent") for e in data["evaluations"].values()]
        data["peak_cpu_percent"] = max(filter(None, peaks), default=None)

    m = update_manifest(run_id, mark)
    log(f"run {run_id}: finished (peak CPU {m['peak_cpu_percent']}%)")
    return "finished"
