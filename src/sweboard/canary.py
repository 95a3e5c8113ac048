"""Evaluator canaries: before any model is scored on a slice, the slice's own gold patches must
all resolve and empty patches must resolve none, on the slice's split and images.

Why: a broken image, a wrong split or an evaluator that cannot run would otherwise be scored
as every model failing. The canary goes through exactly the path model attempts take (a
batch of attempt records, the official evaluator, verdicts, the manifest), with two stand-in
"models" whose patch is the dataset's gold patch or nothing. It is recorded as a run of kind
`canary` (never on the leaderboard), so its evidence stays with its logs.
"""

from __future__ import annotations

import datetime as dt

from sweboard import executors
from sweboard.batch import BatchPlan, run_batch
from sweboard.catalog import ModelEntry, Provider
from sweboard.dataset_lock import load_locked_rows
from sweboard.evaluation import evaluate
from sweboard.instances import Slice
from sweboard.manifest import update_manifest
from sweboard.runconfig import load_runner_config
from sweboard.runners.patch import PatchRunner

PROVIDER = Provider("canary", None, None, None, test_equipment=True)
GOLD = ModelEntry("canary/gold", PROVIDER, 0.0, 0.0, "the dataset's gold patch: no model", True)
EMPTY = ModelEntry("canary/empty", PROVIDER, 0.0, 0.0, "an empty patch: no model", True)


def _misgraded(run_id: str) -> tuple[list[str], list[str]]:
    """(tasks whose gold patch did not resolve, tasks an empty patch resolved), each with its outcome."""
    from sweboard.manifest import read_manifest
    from sweboard.outcomes import RESOLVED, task_outcomes

    m = read_manifest(run_id) or {}
    if not m.get("batches"):
        return [], []
    gold = [f"{iid} ({per[-1]['outcome'] if per else 'no attempt'})" for iid, per in
            sorted(task_outcomes(m, GOLD.id).items()) if not per or per[-1]["outcome"] != RESOLVED]
    empty = [iid for iid, per in sorted(task_outcomes(m, EMPTY.id).items())
             if per and per[-1]["outcome"] == RESOLVED]
    return gold, empty


def run_canary(sl: Slice, run_id: str | None = None, log=print) -> dict:
    """Grade gold and empty patches on the slice; returns {run_id, passed, gold, empty, detail}."""
    lock, rows = load_locked_rows(sl.dataset_lock, sl.split, list(sl.instance_ids))
    if lock.source == "bundled":
        from sweboard.testbench import images

        images.build_all(list(sl.instance_ids), log=lambda s: None)
    run_id = run_id or f"canary-{sl.section}-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%fZ}"
    config = load_runner_config(overrides={"attempts": 1, "stop_after_resolved": "true"})
    counts = {}
    for model, gold in ((GOLD, True), (EMPTY, False)):
        entry = run_batch(BatchPlan(run_id, model, sl, lock, rows, config, run_kind="canary"), PatchRunner(gold),
                          log=lambda s: log(s.strip()) if "waits" in s or "waiting" in s else None)
        with executors.opened() as executor:
            ev = evaluate(run_id, model.id, executor, log=lambda s: None)
        counts[model.id] = {"batch": entry["status"], "evaluation": ev["status"], "resolved": ev["counts"]["resolved"],
                            "graded": sum(ev["counts"].values()), "pending": ev["pending"]}
    n = len(rows)
    gold, empty = counts[GOLD.id], counts[EMPTY.id]
    gold["failed"], empty["failed"] = _misgraded(run_id)
    problems = []
    if gold["batch"] != "ok" or empty["batch"] != "ok":
        problems.append(f"batches did not complete (gold: {gold['batch']}; empty: {empty['batch']})")
    if gold["evaluation"] != "ok" or empty["evaluation"] != "ok":
        problems.append(f"evaluator did not grade everything (gold: {gold['evaluation']}; empty: {empty['evaluation']})")
    if gold["resolved"] != n:
        problems.append(f"gold patches resolved {gold['resolved']}/{n} (expected {n}; not: {', '.join(gold['failed'])})")
    if empty["resolved"] != 0:
        problems.append(f"empty patches resolved {empty['resolved']}/{n} (expected 0; resolved: {', '.join(empty['failed'])})")
    result = {"run_id": run_id, "passed": not problems, "instances": n, "gold": gold, "empty": empty,
              "detail": "; ".join(problems) or f"gold {n}/{n} resolved, empty 0/{n}"}

    def mark(m):
        m["kind"] = "canary"
        m["canary"] = result
        m["status"] = "finished"
    update_manifest(run_id, mark)
    log(f"canary {run_id} [{sl.section}, {n} tasks]: {'PASSED' if result['passed'] else 'FAILED'}: {result['detail']}")
    return result
