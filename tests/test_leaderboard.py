"""Leaderboard metrics and run comparison on hand-made manifests (every number checked by hand)."""

import json
from math import comb

import pytest

from sweboard.compare import compare, gates
from sweboard.leaderboard import batch_metrics, columns, leaderboard_rows, pass_at_k


def test_pass_at_k_matches_the_formula():
    assert pass_at_k(3, 0, 1) == 0.0
    assert pass_at_k(3, 3, 1) == 1.0
    assert pass_at_k(3, 1, 1) == pytest.approx(1 / 3)
    assert pass_at_k(3, 1, 2) == pytest.approx(1 - comb(2, 2) / comb(3, 2))
    assert pass_at_k(5, 2, 5) == 1.0


def attempt(k, status="submitted", error_class="", calls=3):
    return {"attempt": k, "status": status, "exit_status": "Submitted", "error_class": error_class,
            "duration_seconds": 1.0, "record": f"attempts/x/a/attempt-{k}/record.json", "trajectory": None,
            "usage": {"model_calls": calls, "retries": 1, "prompt_tokens": 100, "completion_tokens": 10}}


def manifest(run_id, batches, verdicts, stop_after_resolved=True, ids=("t1", "t2")):
    """batches: model -> {task: [attempt dicts]}; verdicts: model -> {task: [verdict per attempt]}."""
    return {
        "run_id": run_id, "status": "finished", "slice": {"instance_ids": list(ids), "split": "dev",
                                                          "instance_ids_sha256": "h"},
        "dataset_lock": {"repo_id": "d", "revision": "r" * 40},
        "batches": {m: {"model": {"provider": "p"}, "kind": "baseline" if m == "base" else "model",
                        "status": "ok", "attempts_per_task": max(len(v) for v in tasks.values()),
                        "stop_after_resolved": stop_after_resolved, "wall_seconds": 10.0, "attempts": tasks}
                    for m, tasks in batches.items()},
        "evaluations": {m: {"wall_seconds": 5.0, "instances": {
            t: [{"attempt": i + 1, "verdict": v, "error_class": "path_not_found" if v == "error" else ""}
                for i, v in enumerate(vs)] for t, vs in per.items()}} for m, per in verdicts.items()},
    }


def test_early_stopping_uses_first_attempt_and_within_k():
    m = manifest("r", {"m": {"t1": [attempt(1), attempt(2)], "t2": [attempt(1)]}, "base": {"t1": [attempt(1)], "t2": [attempt(1)]}},
                 {"m": {"t1": ["unresolved", "resolved"], "t2": ["resolved"]}, "base": {"t1": ["empty_patch"], "t2": ["empty_patch"]}})
    got = batch_metrics(m, "m")
    assert (got["pass@1"], got["pass@K"], got["resolved"], got["attempts_total"], got["attempts_mean"]) == (0.5, 1.0, 2, 3, 1.5)
    assert got["pass_estimator"] == "first attempt / within K"
    assert got["model_calls"] == 9 and got["retries"] == 3 and got["prompt_tokens"] == 300
    rows = {r["model"]: r for r in leaderboard_rows([m])}
    assert rows["m"]["baseline_pass@1"] == 0.0 and rows["m"]["delta_vs_baseline"] == 0.5
    assert rows["base"]["empty_patches"] == 2 and rows["base"]["pass@1"] == 0.0


def test_all_k_uses_the_unbiased_estimator_and_counts_failures():
    m = manifest("r", {"m": {"t1": [attempt(1), attempt(2, "timeout", "timeout")],
                             "t2": [attempt(1, "error", "provider_error"), attempt(2)]}},
                 {"m": {"t1": ["resolved", "empty_patch"], "t2": ["empty_patch", "error"]}}, stop_after_resolved=False)
    got = batch_metrics(m, "m")
    assert got["pass_estimator"] == "unbiased (n=2)"
    assert got["pass@1"] == pytest.approx((0.5 + 0.0) / 2)
    assert got["pass@K"] == pytest.approx(0.5)
    assert got["run_fail_rate"] == 0.5 and got["err_timeout"] == 1 and got["err_provider_error"] == 1
    assert got["err_path_not_found"] == 1 and got["errors"] == 2  # both tasks end in an error


def test_columns_are_declared_and_every_v1_column_is_produced():
    cols = columns("v1")
    assert {"run_id", "status", "pass@1", "pass@K"} <= set(cols)
    m = manifest("r", {"m": {"t1": [attempt(1)], "t2": [attempt(1)]}}, {"m": {"t1": ["resolved"], "t2": ["unresolved"]}})
    row = leaderboard_rows([m])[0]
    assert set(cols) <= set(row)


def test_compare_reports_agreement_moves_and_gates(home):
    runs = home / "runs"
    a = manifest("A", {"m": {"t1": [attempt(1)], "t2": [attempt(1)]}, "base": {"t1": [attempt(1)], "t2": [attempt(1)]}},
                 {"m": {"t1": ["resolved"], "t2": ["resolved"]}, "base": {"t1": ["empty_patch"], "t2": ["empty_patch"]}})
    b = json.loads(json.dumps(a))
    b["run_id"] = "B"
    for run in (a, b):
        (runs / run["run_id"]).mkdir()
        (runs / run["run_id"] / "manifest.json").write_text(json.dumps(run))
    comparisons, _, mb = compare("A", "B")
    assert all(c.agreement == 1.0 and not c.moved for c in comparisons)
    assert all(ok for _, ok, _ in gates(mb, comparisons))

    b["run_id"] = "C"
    b["evaluations"]["m"]["instances"]["t2"][0]["verdict"] = "unresolved"
    (runs / "C").mkdir()
    (runs / "C" / "manifest.json").write_text(json.dumps(b))
    comparisons, _, mc = compare("A", "C")
    moved = {c.model: c for c in comparisons}["m"]
    assert moved.agreement == 0.5 and moved.disagreeing == ["t2"]
    assert moved.moved is False, "1.0 vs 0.5 on two tasks is inside the binomial band"
