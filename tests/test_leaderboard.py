"""Leaderboard metrics and run comparison on hand-made manifests (every number checked by hand)."""

import csv
import json
from math import comb

import pytest

from sweboard.compare import FAIL, NA, PASS, compare, gates, reproduction_gate
from sweboard.errors import SweboardError
from sweboard.leaderboard import (SCORE_COLUMNS, batch_metrics, columns, leaderboard_rows, pass_at_k,
                                  write_csv)
from sweboard.outcomes import ERR_COLUMNS


def test_pass_at_k_matches_the_formula():
    assert pass_at_k(3, 0, 1) == 0.0
    assert pass_at_k(3, 3, 1) == 1.0
    assert pass_at_k(3, 1, 1) == pytest.approx(1 / 3)
    assert pass_at_k(3, 1, 2) == pytest.approx(1 - comb(2, 2) / comb(3, 2))
    assert pass_at_k(5, 2, 5) == 1.0


def test_pass_at_k_refuses_more_samples_than_attempts():
    with pytest.raises(ValueError):
        pass_at_k(1, 0, 2)
    with pytest.raises(ValueError):
        pass_at_k(2, 3, 1)


def attempt(k, status="submitted", error_class="", calls=3, failed=0, cost=0.0):
    return {"attempt": k, "status": status, "exit_status": "Submitted", "error_class": error_class,
            "duration_seconds": 1.0, "record": f"attempts/x/a/attempt-{k}/record.json", "trajectory": None,
            "usage": {"model_calls": calls, "failed_calls": failed, "retries": 1, "prompt_tokens": 100,
                      "completion_tokens": 10, "cost_usd": cost}}


def manifest(run_id, batches, verdicts, stop_after_resolved=True, ids=("t1", "t2"), status="ok", kinds=None):
    """batches: model -> {task: [attempt dicts]}; verdicts: model -> {task: [verdict per attempt]}."""
    kinds = kinds or {}
    return {
        "run_id": run_id, "status": "finished", "slice": {"instance_ids": list(ids), "split": "dev",
                                                          "instance_ids_sha256": "h"},
        "dataset_lock": {"repo_id": "d", "revision": "r" * 40},
        "runner_config": {"attempts": 2, "stop_after_resolved": stop_after_resolved, "runner": "mini"},
        "batches": {m: {"model": {"provider": "p"}, "kind": kinds.get(m, "baseline" if m == "base" else "model"),
                        "status": status, "runner": "mini", "attempts_per_task": max(len(v) for v in tasks.values()),
                        "stop_after_resolved": stop_after_resolved, "wall_seconds": 10.0, "attempts": tasks}
                    for m, tasks in batches.items()},
        "evaluations": {m: {"wall_seconds": 5.0, "post_batch_wall_seconds": 3.0, "instances": {
            t: [{"attempt": i + 1, "verdict": v, "error_class": "path_not_found" if v == "error" else ""}
                for i, v in enumerate(vs) if v is not None] for t, vs in per.items()}} for m, per in verdicts.items()},
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


def test_all_k_uses_the_unbiased_estimator_and_counts_each_failure_once():
    m = manifest("r", {"m": {"t1": [attempt(1), attempt(2, "timeout", "timeout")],
                             "t2": [attempt(1, "error", "malformed_output"), attempt(2)]}},
                 {"m": {"t1": ["resolved"], "t2": [None, "error"]}}, stop_after_resolved=False)
    got = batch_metrics(m, "m")
    assert got["status"] == "ok"
    assert got["pass_estimator"] == "unbiased (n=2)"
    assert got["pass@1"] == pytest.approx((0.5 + 0.0) / 2)
    assert got["pass@K"] == pytest.approx(0.5)
    # t1#2 timed out (no patch, not graded): one class, err_timeout, and not also an empty patch
    assert got["err_timeout"] == 1 and got["empty_patches"] == 0
    assert got["err_malformed_output"] == 1 and got["err_path_not_found"] == 1
    assert got["attempts_failed"] == 3 == sum(got[c] for c in ERR_COLUMNS)
    assert got["run_fail_rate"] == 0.75 and got["errors"] == 2


def test_step_limit_and_agent_errors_have_their_own_columns():
    m = manifest("r", {"m": {"t1": [attempt(1, "error", "step_limit")], "t2": [attempt(1, "error", "agent_error")]}},
                 {"m": {}})
    got = batch_metrics(m, "m")
    assert got["err_step_limit"] == 1 and got["err_agent"] == 1 and got["attempts_failed"] == 2
    assert got["status"] == "ok" and got["pass@1"] == 0.0


def test_infrastructure_failures_never_score_as_the_models_miss():
    # t2 never ran: its task container did not start (docker exit 125)
    m = manifest("r", {"m": {"t1": [attempt(1)], "t2": [attempt(1, "error", "infra", calls=0)]}},
                 {"m": {"t1": ["resolved"]}})
    got = batch_metrics(m, "m")
    assert got["status"] == "incomplete: 1 tasks hit infrastructure errors (--resume reruns them)"
    assert all(got[c] == "" for c in SCORE_COLUMNS), "scores must be empty, not 0.0"
    assert got["err_infra"] == 1 and got["empty_patches"] == ""


def test_provider_failing_and_a_hang_are_infrastructure():
    m = manifest("r", {"m": {"t1": [attempt(1, "error", "provider_error", calls=2, failed=2)],
                             "t2": [attempt(1, "timeout", "timeout", calls=0)]}}, {"m": {}})
    got = batch_metrics(m, "m")
    assert got["status"].startswith("incomplete: 2 tasks hit infrastructure")
    assert got["err_provider_error"] == 2 and got["attempts_failed"] == 2


def test_a_timeout_while_the_model_worked_is_the_models():
    m = manifest("r", {"m": {"t1": [attempt(1, "timeout", "timeout", calls=5)], "t2": [attempt(1)]}},
                 {"m": {"t2": ["unresolved"]}})
    got = batch_metrics(m, "m")
    assert got["status"] == "ok" and got["err_timeout"] == 1 and got["pass@1"] == 0.0 and got["errors"] == 1


def test_evaluator_crash_leaves_the_row_not_graded():
    m = manifest("r", {"m": {"t1": [attempt(1)], "t2": [attempt(1)]}}, {"m": {"t1": ["resolved"]}})
    m["evaluations"]["m"]["failures"] = [{"evaluator_run_id": "r.m.e1", "exit_code": 1,
                                          "log": "evaluation/m/e1/evaluator.log", "ungraded": ["t2#1"]}]
    got = batch_metrics(m, "m")
    assert got["status"] == "not graded: evaluator failed (evaluation/m/e1/evaluator.log)"
    assert got["pass@1"] == "" and got["resolved"] == ""


def test_skipped_stopped_and_failed_rows_have_empty_scores_and_sort_after_ok_rows():
    ok = manifest("a", {"m": {"t1": [attempt(1)], "t2": [attempt(1)]}}, {"m": {"t1": ["unresolved"], "t2": ["unresolved"]}})
    others = [manifest(f"b{i}", {f"x{i}": {"t1": [attempt(1)], "t2": [attempt(1)]}},
                       {f"x{i}": {"t1": ["resolved"], "t2": ["resolved"]}}, status=status)
              for i, status in enumerate(("skipped: model unavailable", "stopped: budget", "failed: boom"))]
    rows = leaderboard_rows(others + [ok])
    assert rows[0]["model"] == "m" and rows[0]["pass@1"] == 0.0, "a real 0 % sorts before rows with no score"
    for r in rows[1:]:
        assert r["status"] != "ok" and all(r[c] == "" for c in SCORE_COLUMNS), r


def test_usage_totals_include_set_aside_attempts():
    m = manifest("r", {"m": {"t1": [attempt(1, cost=0.5)], "t2": [attempt(1, cost=0.25)]}},
                 {"m": {"t1": ["resolved"], "t2": ["resolved"]}})
    m["batches"]["m"]["set_aside"] = [
        {"path": "attempts/m/t1/attempt-1.interrupted-1", "reason": "interrupted",
         "usage": {"model_calls": 4, "prompt_tokens": 50, "completion_tokens": 5, "cost_usd": 1.0, "retries": 0}},
        {"path": "attempts/m/t2/attempt-1.infra-1", "reason": "infra",
         "usage": {"model_calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0, "retries": 0}}]
    got = batch_metrics(m, "m")
    assert got["model_calls"] == 10 and got["prompt_tokens"] == 250 and got["cost_usd"] == 1.75
    assert got["attempts_interrupted"] == 1 and got["attempts_infra_retried"] == 1 and got["attempts_total"] == 2


def test_wall_time_counts_in_batch_grading_once():
    m = manifest("r", {"m": {"t1": [attempt(1)], "t2": [attempt(1)]}}, {"m": {"t1": ["resolved"], "t2": ["resolved"]}})
    got = batch_metrics(m, "m")
    # batch wall 10 s (grading inside it included) + 3 s of grading after the batch; 5 s of grading in all
    assert (got["wall_time_s"], got["eval_time_s"], got["agent_time_s"]) == (13.0, 5.0, 2.0)


def test_columns_are_declared_and_every_v1_column_is_produced():
    cols = columns("v1")
    assert {"run_id", "status", "pass@1", "pass@K", "runner", "err_infra", "err_step_limit", "err_agent"} <= set(cols)
    assert set(ERR_COLUMNS) <= set(cols)
    m = manifest("r", {"m": {"t1": [attempt(1)], "t2": [attempt(1)]}}, {"m": {"t1": ["resolved"], "t2": ["unresolved"]}})
    row = leaderboard_rows([m])[0]
    assert set(cols) <= set(row)


def test_formula_like_cells_are_neutralised_but_numbers_are_not(tmp_path):
    path = write_csv(tmp_path / "b.csv", ("model", "delta", "status"),
                     [{"model": '=HYPERLINK("http://x","y")', "delta": -0.25, "status": "@SUM(1)"},
                      {"model": "+1", "delta": 0.5, "status": "-x"}])
    rows = list(csv.DictReader(path.open()))
    assert rows[0]["model"] == "'=HYPERLINK(\"http://x\",\"y\")" and rows[0]["status"] == "'@SUM(1)"
    assert rows[0]["delta"] == "-0.25" and rows[1]["model"] == "'+1" and rows[1]["status"] == "'-x"


def test_rates_are_described_as_fractions():
    import yaml

    from sweboard.paths import config_dir

    desc = yaml.safe_load((config_dir() / "leaderboard_columns.yaml").read_text())["descriptions"]
    for col in ("pass@1", "pass@K", "resolve_rate", "run_fail_rate", "baseline_pass@1"):
        assert "fraction 0-1" in desc[col], col


def _write(runs, m):
    (runs / m["run_id"]).mkdir()
    (runs / m["run_id"] / "manifest.json").write_text(json.dumps(m))


def test_compare_uses_a_paired_test_and_the_gates(home):
    runs = home / "runs"
    a = manifest("A", {"m": {"t1": [attempt(1)], "t2": [attempt(1)]}, "base": {"t1": [attempt(1)], "t2": [attempt(1)]}},
                 {"m": {"t1": ["resolved"], "t2": ["resolved"]}, "base": {"t1": ["empty_patch"], "t2": ["empty_patch"]}})
    b = json.loads(json.dumps(a))
    b["run_id"] = "B"
    _write(runs, a)
    _write(runs, b)
    comparisons, ma, mb = compare("A", "B")
    assert all(not c.moved and not c.test.only_a and not c.test.only_b for c in comparisons)
    states = gates(mb, comparisons, first=ma)
    assert [state for _, state, _ in states] == [PASS, PASS, NA], "K=1: no within-task reference flip rate"
    assert "no reference flip rate for m" in states[2][2] and "--all-attempts" in states[2][2]
    name, state, detail = reproduction_gate(comparisons)
    assert state == NA and "cannot show either" in detail, "two identical tasks cannot prove a +/-0.10 match"

    b["run_id"] = "C"
    b["evaluations"]["m"]["instances"]["t2"][0]["verdict"] = "unresolved"
    _write(runs, b)
    comparisons, _, mc = compare("A", "C")
    moved = {c.model: c for c in comparisons}["m"]
    assert moved.test.only_a == ["t2"] and not moved.moved and moved.test.diff == -0.5
    assert reproduction_gate(comparisons)[1] == NA


def test_mcnemar_detects_six_flips_in_thirty_tasks(home):
    ids = tuple(f"t{i}" for i in range(30))
    verdicts_a = {t: ["resolved" if i < 20 else "unresolved"] for i, t in enumerate(ids)}
    verdicts_b = {t: ["resolved" if 6 <= i < 20 else "unresolved"] for i, t in enumerate(ids)}
    tasks = {t: [attempt(1)] for t in ids}
    a = manifest("A", {"m": tasks}, {"m": verdicts_a}, ids=ids)
    b = manifest("B", {"m": tasks}, {"m": verdicts_b}, ids=ids)
    _write(home / "runs", a)
    _write(home / "runs", b)
    [c], _, _ = compare("A", "B")
    assert c.test.p_value == pytest.approx(0.03125) and c.moved
    assert c.test.only_a == [f"t{i}" for i in range(6)]


def test_compare_refuses_different_experiments(home):
    a = manifest("A", {"m": {"t1": [attempt(1)], "t2": [attempt(1)]}}, {"m": {"t1": ["resolved"], "t2": ["resolved"]}})
    b = json.loads(json.dumps(a))
    b["run_id"] = "B"
    b["batches"]["m"]["attempts_per_task"] = 3
    _write(home / "runs", a)
    _write(home / "runs", b)
    with pytest.raises(SweboardError, match="not the same experiment.*K"):
        compare("A", "B")


def test_gates_are_na_without_their_data_and_count_model_attempts_only():
    # baseline not graded: gate 1 cannot pass on an ungraded 0
    m = manifest("A", {"m": {"t1": [attempt(1)], "t2": [attempt(1)]}, "base": {"t1": [attempt(1)], "t2": [attempt(1)]}},
                 {"m": {"t1": ["resolved"], "t2": ["resolved"]}})
    g = gates(m, [], first=m)
    assert g[0][1] == NA and "baseline not graded" in g[0][2]
    assert g[2][1] == NA and "no model graded in both runs" in g[2][2]
    # 2 of 20 model attempts malformed = 10 %: FAIL, whatever the baseline's attempts add
    ids = tuple(f"t{i}" for i in range(20))
    tasks = {t: [attempt(1)] for t in ids}
    v = {t: ["error" if i < 2 else "resolved"] for i, t in enumerate(ids)}
    m = manifest("B", {"m": tasks, "base": tasks}, {"m": v, "base": {t: ["empty_patch"] for t in ids}}, ids=ids)
    g = gates(m, [])
    assert g[0][1] == PASS
    assert g[1][1] == FAIL and "2 of 20 model attempts (10.0%)" in g[1][2]
