"""v2/v3 on hand-made manifests: intervals, rank groups, pairwise tests, per-repo rows, cost and latency."""

import json
import subprocess
from pathlib import Path

import pytest

from sweboard.leaderboard import batch_metrics, breakdown_rows, leaderboard_rows, pairwise_rows, repo_of
from sweboard.intervals import method, rate_interval
from sweboard.stats import holm
from test_leaderboard import attempt, manifest

ROOT = Path(__file__).resolve().parents[1]


def test_repo_follows_swe_bench_ids():
    assert repo_of("pvlib__pvlib-python-1707") == "pvlib/pvlib-python"
    assert repo_of("sweboard-fixtures__tinycalc-1") == "sweboard-fixtures/tinycalc"


def test_intervals_exact_and_clustered():
    assert rate_interval([1] * 3 + [0] * 7, list("abcdefghij")) == (0.0667, 0.6525)  # the textbook 3/10
    assert rate_interval([1, 0, 1, 0, 1, 0], list("abcdef")) == (0.1181, 0.8819), "one task per repo: plain exact"
    clustered = rate_interval([1, 0, 1, 1, 0, 1], ["a", "a", "b", "b", "c", "c"])
    plain = rate_interval([1, 0, 1, 1, 0, 1], list("abcdef"))
    assert clustered[0] < plain[0] and clustered[1] > plain[1], "repos of two tasks count as fewer tasks"
    assert method(["a", "a", "b", "b", "c", "c"]) == ("exact Clopper-Pearson on tasks like these; repo design effect "
                                                      "1.35 (3 repos, conservative ICC 0.35)")
    assert "one repo: the estimand is that repo's own rate" in method(["a", "a", "a"])


def test_holm_adjusts_in_order():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def _run(n=12):
    ids = tuple(f"r{i % 3}__x-{i}" for i in range(n))
    good = {t: [attempt(1, cost=0.01)] for t in ids}
    verdicts = {"strong": {t: ["resolved"] for t in ids},
                "close": {t: ["resolved" if i != 0 else "unresolved"] for i, t in enumerate(ids)},
                "base": {t: ["empty_patch"] for t in ids}}
    copy = lambda: json.loads(json.dumps(good))  # noqa: E731  (each model its own attempt records)
    return manifest("R", {"strong": copy(), "close": copy(), "base": copy()}, verdicts, ids=ids)


def test_rank_groups_and_pairwise_use_the_paired_test():
    m = _run()
    rows = {r["model"]: r for r in leaderboard_rows([m])}
    assert rows["strong"]["rank_group"] == 1 and rows["close"]["rank_group"] == 1, "one flip: indistinguishable"
    assert rows["base"]["rank_group"] == 2, "twelve flips one way: a different group"
    pairs = {(p["model_a"], p["model_b"]): p for p in pairwise_rows(m)}
    assert pairs[("base", "strong")]["only_b"] == 12 and pairs[("base", "strong")]["distinguishable"]
    assert pairs[("close", "strong")]["p_value"] == 1.0 and not pairs[("close", "strong")]["distinguishable"]
    assert rows["strong"]["pass@1_ci_high"] == 1.0 and rows["strong"]["pass@1_ci_low"] < 1.0, "12/12 is not certainty"
    assert rows["strong"]["ci_method"] == rows["close"]["ci_method"] == rows["base"]["ci_method"], "one method a slice"
    assert rows["close"]["pass@1_ci_low"] < rows["strong"]["pass@1_ci_low"], "11/12 never above 12/12"
    pair = pairs[("base", "strong")]
    assert pair["diff_b_minus_a"] == 1.0 and pair["diff_ci_low"] < 1.0 and pair["diff_ci_high"] == 1.0


def test_per_repo_rows_partition_the_tasks():
    m = _run()
    rows = [r for r in breakdown_rows([m], "repo") if r["model"] == "close"]
    assert {r["repo"] for r in rows} == {"r0/x", "r1/x", "r2/x"}
    assert sum(r["tasks"] for r in rows) == 12 and sum(r["resolved"] for r in rows) == 11


def test_cost_latency_and_token_source():
    m = _run(4)
    for per in m["batches"]["strong"]["attempts"].values():
        per[0]["usage"].update({"latencies_s": [1.0, 2.0, 3.0], "token_sources": {"provider": 3, "approx": 1},
                                "cost_list_usd": 0.009, "cost_billed_usd": 0.01, "billed_calls": 3,
                                "cost_list_of_billed_usd": 0.008})
    row = batch_metrics(m, "strong")
    assert (row["latency_p50_s"], row["latency_p90_s"], row["latency_p99_s"], row["latency_n"]) == (2.0, 3.0, "", 12)
    assert row["token_source"] == "approx 25% provider 75%"
    assert row["cost_per_task"] == 0.01 and row["cost_per_resolved"] == 0.01
    assert row["cost_billed_usd"] == 0.04 and row["cost_discrepancy_usd"] == pytest.approx(0.008)
    base = batch_metrics(m, "base")
    assert base["cost_per_resolved"] == "" and base["cost_billed_usd"] == "" and base["latency_p50_s"] == ""


def test_suggest_timeouts_names_attempts_cut_while_working(home):
    from sweboard.timeouts import render, suggestions

    m = _run(2)
    m["run_id"] = "T"
    a = m["batches"]["strong"]["attempts"]["r0__x-0"][0]
    a.update({"status": "timeout", "error_class": "timeout", "record": "attempts/strong/r0__x-0/attempt-1/record.json"})
    rec = home / "runs" / "T" / a["record"]
    rec.parent.mkdir(parents=True)
    rec.write_text(json.dumps({"timeout_seconds": 45, "gateway_calls": [
        {"status": 200, "t": 1000.0, "total_s": 1.0}, {"status": 200, "t": 1040.0, "total_s": 1.0}]}))
    (home / "runs" / "T" / "manifest.json").write_text(json.dumps(m))
    [s] = suggestions("T")
    assert s["instance"] == "r0__x-0" and s["proposed"] == 120 and s["evidence"].endswith("record.json")
    assert "attempt_timeout_seconds: 120" in render("T", [s]) and "runs/T/attempts" in render("T", [s])


def test_run_i3_plans_the_real_slice_and_the_offline_one(home):
    proc = subprocess.run(["bash", str(ROOT / "tools" / "run_i3.sh")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "19 tasks from instances_i3.yaml" in proc.stdout and "pvlib__pvlib-python-1606" in proc.stdout
    assert "medium" in proc.stdout and "90s/attempt" in proc.stdout and "plan only" in proc.stdout
    assert "power on 19 tasks" in proc.stdout and "difference between two models found with 80% power is 0.50" \
        in proc.stdout and "the paired test needs 50 tasks" in proc.stdout, "the README quotes these"
    proc = subprocess.run(["bash", str(ROOT / "tools" / "run_i3.sh"), "--offline"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and "[offline]" in proc.stdout
    assert "files hunks lines" in proc.stdout, "the bundled rows are local: sizes are shown"
    assert "95% interval of +/-" in proc.stdout


def test_the_i3_slice_is_15_to_20_tasks_with_difficulty_and_reasons():
    from sweboard.instances import load_slice

    sl = load_slice(ROOT / "config" / "instances_i3.yaml", "swe-bench-lite")
    i1 = load_slice(ROOT / "config" / "instances_i1.yaml", "swe-bench-lite")
    assert 15 <= len(sl.instance_ids) <= 20 and set(i1.instance_ids) <= set(sl.instance_ids)
    assert set(sl.difficulty) == set(sl.instance_ids) and all(sl.rationale[i] for i in sl.instance_ids)
    heavy = [i for i in sl.instance_ids if i.startswith(("pvlib", "pyvista")) and i not in i1.instance_ids]
    medium = [i for i in sl.instance_ids if sl.difficulty[i] == "medium" and i not in i1.instance_ids and i not in heavy]
    assert 6 <= len(medium) <= 8
    assert 3 <= len(heavy) <= 4
