"""The board's invariants, on random attempt records and manifests (hypothesis).

Examples check numbers by hand; these check the rules hold for any mix of outcomes, K,
stopping policy, skips, stops, interruptions and evaluator failures.
"""

import filecmp

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sweboard.leaderboard import SCORE_COLUMNS, batch_metrics, leaderboard_rows, write_csv
from sweboard.outcomes import ERR_COLUMNS, ERROR_COLUMNS, INFRA

AGENT_CLASSES = sorted(ERROR_COLUMNS) + ["something_new"]
EVAL_CLASSES = ["malformed_patch", "patch_apply_failed", "path_not_found", "test_timeout", "evaluator_error"]
STATUSES = ["ok", "incomplete", "stopped: budget", "skipped: provider failing", "failed: crashed"]

usage = st.fixed_dictionaries({
    "model_calls": st.integers(0, 30), "failed_calls": st.integers(0, 5), "retries": st.integers(0, 5),
    "prompt_tokens": st.integers(0, 10_000), "completion_tokens": st.integers(0, 1_000),
    "cost_usd": st.floats(0, 2, allow_nan=False), "backoff_s": st.floats(0, 30, allow_nan=False)})


@st.composite
def attempt_and_verdict(draw, k):
    status = draw(st.sampled_from(["submitted", "empty", "error", "timeout"]))
    error_class = draw(st.sampled_from(AGENT_CLASSES)) if status in ("error", "timeout") else ""
    a = {"attempt": k, "status": status, "exit_status": "x", "error_class": error_class,
         "duration_seconds": draw(st.floats(0, 100, allow_nan=False)),
         "record": f"attempts/m/t/attempt-{k}/record.json", "trajectory": None, "usage": draw(usage)}
    verdict = draw(st.sampled_from([None, "resolved", "unresolved", "empty_patch", "error"]))
    v = None
    if verdict:
        v = {"attempt": k, "verdict": verdict,
             "error_class": draw(st.sampled_from(EVAL_CLASSES)) if verdict == "error" else ""}
        if draw(st.integers(0, 20)) == 0:
            v["verdict_conflict"] = ["verdict.conflict-x.json"]
    return a, v


@st.composite
def manifests(draw):
    n_tasks = draw(st.integers(1, 5))
    ids = [f"t{i}" for i in range(n_tasks)]
    stop = draw(st.booleans())
    batches, evaluations = {}, {}
    for m in range(draw(st.integers(1, 3))):
        model = f"m{m}"
        k_max = draw(st.integers(1, 3))
        attempts, verdicts = {}, {}
        for t in ids:
            pairs = [draw(attempt_and_verdict(k)) for k in range(1, draw(st.integers(0, k_max)) + 1)]
            if pairs or draw(st.booleans()):
                attempts[t] = [a for a, _ in pairs]
                verdicts[t] = [v for _, v in pairs if v]
        set_aside = [{"path": f"attempts/{model}/t0/attempt-1.{r}-1", "reason": r, "usage": draw(usage)}
                     for r in draw(st.lists(st.sampled_from(["interrupted", "infra"]), max_size=3))]
        batches[model] = {"model": {"provider": "p"}, "kind": draw(st.sampled_from(["model", "baseline", "test-equipment"])),
                          "runner": "mini", "status": draw(st.sampled_from(STATUSES)), "attempts_per_task": k_max,
                          "stop_after_resolved": stop, "wall_seconds": draw(st.floats(0, 1000, allow_nan=False)),
                          "attempts": attempts, "set_aside": set_aside}
        failures = [{"evaluator_run_id": "e1", "exit_code": 1, "log": "evaluation/x/e1/evaluator.log",
                     "ungraded": []}] if draw(st.booleans()) else []
        evaluations[model] = {"wall_seconds": 5.0, "post_batch_wall_seconds": 2.0, "failures": failures,
                              "instances": verdicts}
    return {"run_id": "r", "status": "running",
            "slice": {"instance_ids": ids, "split": "dev", "instance_ids_sha256": "h"},
            "dataset_lock": {"repo_id": "d", "revision": "0" * 40},
            "runner_config": {"attempts": 1, "stop_after_resolved": stop, "runner": "mini"},
            "batches": batches, "evaluations": evaluations}


def _check_row(m, model_id, row):
    batch = m["batches"][model_id]
    ok = row["status"] == "ok" or row["status"].startswith("ok; pass@K empty: ")
    short_k = row["status"] != "ok"
    # scores: a number exactly when the status is ok (pass@K: and every task had K attempts)
    for c in SCORE_COLUMNS:
        if c in ("baseline_pass@1", "delta_vs_baseline", "cost_per_resolved"):
            continue  # these also need an ok baseline row, or a resolved task
        if c.startswith("pass@1_these_tasks"):  # on these tasks: only from the attempts' own spread
            if row[c] != "":
                assert ok and not batch.get("stop_after_resolved", True) and row["K"] >= 2, (c, row)
                assert row["pass@1_these_tasks_ci_low"] <= row["pass@1"] <= row["pass@1_these_tasks_ci_high"]
            continue
        if c.startswith("pass^K"):  # reliability: only when every one of the K attempts ran
            all_ran = ok and not short_k and not batch.get("stop_after_resolved", True)
            assert (row[c] != "") == all_ran, (c, row)
            continue
        expected = ok and not (short_k and c in ("pass@K", "pass@K_ci_low", "pass@K_ci_high"))
        assert (row[c] != "") == expected, (c, row)
    if not ok:
        assert row["baseline_pass@1"] == "" and row["delta_vs_baseline"] == ""
    else:
        assert 0 <= row["pass@1"] <= 1 and row["pass@1_ci_low"] <= row["pass@1"] <= row["pass@1_ci_high"]
        if not short_k:
            assert row["pass@1"] <= row["pass@K"] <= 1
            assert row["pass@K_ci_low"] <= row["pass@K"] <= row["pass@K_ci_high"]
            if row["pass^K"] != "":
                assert row["pass^K_ci_low"] <= row["pass^K"] <= row["pass@1"] <= row["pass@K"]
        else:  # the reason is true: some task has fewer than K attempts without a resolved one
            assert any(len(per) < row["K"] for per in batch["attempts"].values())
        assert isinstance(row["rank_group"], int) and row["rank_group"] >= 1
        if row["kind"] == "baseline":
            assert "rank" not in row and "beats_baseline" not in row
        else:
            assert isinstance(row["rank"], int) and 1 <= row["rank"] <= len(m["batches"])
        assert (row["cost_per_resolved"] == "") == (row["resolved"] == 0)
        assert row["resolve_rate"] == round(row["resolved"] / row["instances"], 4)
        assert row["run_fail_rate"] == round(row["attempts_failed"] / row["attempts_total"], 4)
        assert not batch["status"].startswith(("skipped", "stopped", "failed"))
        assert row["resolved"] <= row["instances"] and row["errors"] + row["empty_patches"] <= row["instances"]
    # each attempt is in exactly one class: the err_* columns add up to the failed attempts
    assert sum(row[c] for c in ERR_COLUMNS) == row["attempts_failed"] <= row["attempts_total"]
    # an infrastructure failure never leaves a scored row
    infra = any(a["status"] in ("error", "timeout") and a["error_class"] in INFRA
                for per in batch["attempts"].values() for a in per)
    if infra:
        assert not ok
    # spent is spent: set-aside attempts' usage is in the totals
    current = [a["usage"] for per in batch["attempts"].values() for a in per]
    aside = [x["usage"] for x in batch["set_aside"]]
    assert row["model_calls"] == sum(u["model_calls"] for u in current + aside)
    assert row["prompt_tokens"] == sum(u["prompt_tokens"] for u in current + aside)
    assert row["attempts_interrupted"] + row["attempts_infra_retried"] == len(aside)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(manifests())
def test_board_invariants_hold_for_any_manifest(m):
    rows = leaderboard_rows([m])
    assert len(rows) == len(m["batches"])
    for row in rows:
        metrics = batch_metrics(m, row["model"])  # the one fold: the board's row is exactly it
        own = [k for k in metrics if k not in ("baseline_pass@1", "delta_vs_baseline", "rank_group", "rank",
                                               "beats_baseline")]
        assert {k: row[k] for k in own} == {k: metrics[k] for k in own}
        _check_row(m, row["model"], row)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(manifests())
def test_folding_twice_gives_identical_bytes(tmp_path_factory, m):
    from sweboard.leaderboard import columns

    d = tmp_path_factory.mktemp("fold")
    cols = columns("v1")
    a = write_csv(d / "a.csv", cols, leaderboard_rows([m]))
    b = write_csv(d / "b.csv", cols, leaderboard_rows([m]))
    assert filecmp.cmp(a, b, shallow=False)
