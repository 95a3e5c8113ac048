"""The board's statistics keep their promise: intervals that cover, ranks that agree with the paired
tests, a reproduction gate that proves equivalence, and unknown numbers left empty (issue 16)."""

import csv
import json
import random

import numpy as np
import pytest

from sweboard.compare import FAIL, NA, PASS, compare, reproduction_gate
from sweboard.coverage import SHAPES, repo_sizes, table
from sweboard.errors import SweboardError
from sweboard.evaluation import reusable
from sweboard.intervals import difference_interval, paired_p, rate_interval
from sweboard.leaderboard import (batch_metrics, breakdown_rows, columns, leaderboard_rows, pairwise_rows,
                                  write_csv)
from sweboard.stats import mcnemar_exact
from test_leaderboard import _write, attempt, manifest


def repos_of(n, r):
    return [f"r{i}" for i, s in enumerate(repo_sizes(n, r)) for _ in range(s)]


# --- intervals -------------------------------------------------------------------------------

def test_every_printed_interval_covers_on_the_projects_slice_shapes():
    """2,000 replicates a cell: 8x4, 19x6, 12x3; ICC 0 and 0.2; K = 1 and K = 3 all attempts; differences."""
    cells = table()
    worst = min(cells, key=lambda c: c.coverage)
    assert worst.coverage >= 0.93, worst
    assert {c.icc for c in cells if not c.metric.startswith("diff")} == {0.0, 0.2, 0.35, 0.5}, "robust to the ICC"
    paired = [c.coverage for c in cells if c.metric.startswith("diff")]
    assert min(paired) >= 0.94, "the paired interval at its level (0.95 within 2,000 replicates' noise)"
    single = [c.coverage for c in cells if c.metric == "diff pass@1 K=1"]
    assert sum(single) / len(single) <= 0.985, "and not far above it"
    assert all(c.min_width > 0 for c in cells if c.min_width == c.min_width), "0 < x < n never gives a point"
    assert {c.metric for c in cells} >= {"pass@1 K=1", "pass@1 K=3 all", "pass@K K=3 all", "diff pass@1 K=1"}
    assert {(c.tasks, c.repos) for c in cells} == set(SHAPES) >= {(3, 1), (4, 1), (8, 4), (10, 5), (12, 3), (19, 6)}


@pytest.mark.parametrize("n, r", SHAPES + ((6, 6), (1, 1)))
def test_intervals_are_monotone_and_never_a_point_inside(n, r):
    clusters = repos_of(n, r)
    bounds = [rate_interval([1.0] * x + [0.0] * (n - x), clusters) for x in range(n + 1)]
    lows, highs = [b[0] for b in bounds], [b[1] for b in bounds]
    assert lows == sorted(lows) and highs == sorted(highs), "more successes never lower a bound"
    assert all(b[0] < b[1] for b in bounds)
    assert bounds[0][0] == 0.0 and bounds[-1][1] == 1.0


def test_the_issues_zero_width_cases_have_honest_widths():
    assert rate_interval([1, 0] * 3, list("abcdef")) == (0.1181, 0.8819), "3/6, one task a repo: exact"
    low, high = rate_interval([1.0] * 6 + [0.0] * 13, repos_of(19, 6))
    assert high - low > 0.3, "6/19 over 6 repos is not (0.286, 0.333)"
    low, high = rate_interval([2 / 3] * 8, repos_of(8, 4))
    assert high - low > 0.4, "all-attempts rows with one fraction on every task"


def test_the_method_depends_on_the_design_not_the_data():
    m = manifest("R", {"all": {t: [attempt(1)] for t in ("a__x-1", "b__y-1", "c__z-1", "c__z-2")},
                       "none": {t: [attempt(1)] for t in ("a__x-1", "b__y-1", "c__z-1", "c__z-2")},
                       "one": {t: [attempt(1)] for t in ("a__x-1", "b__y-1", "c__z-1", "c__z-2")}},
                 {"all": {t: ["resolved"] for t in ("a__x-1", "b__y-1", "c__z-1", "c__z-2")},
                  "none": {t: ["unresolved"] for t in ("a__x-1", "b__y-1", "c__z-1", "c__z-2")},
                  "one": {"a__x-1": ["resolved"], "b__y-1": ["unresolved"], "c__z-1": ["unresolved"],
                          "c__z-2": ["unresolved"]}},
                 ids=("a__x-1", "b__y-1", "c__z-1", "c__z-2"))
    assert len({batch_metrics(m, x)["ci_method"] for x in ("all", "none", "one")}) == 1
    by_repo = [r for r in breakdown_rows([m], "repo") if r["repo"] == "a/x"]
    assert all(r["pass@1_ci_low"] < r["pass@1_ci_high"] for r in by_repo), "a one-task repo is not a point"


def test_paired_differences_with_intervals():
    low, high = difference_interval([0.0] * 19)
    assert low < 0 < high and high - low > 0.3, "19 identical tasks cannot show two runs are the same within 0.1"
    low, high = difference_interval([-1.0] * 10 + [0.0] * 9)
    assert low < -10 / 19 < high < 0, "ten losses, no gain: the change is negative and covered"


def test_the_paired_p_is_mcnemar_and_agrees_with_the_interval():
    for b in range(0, 13):
        for c in range(0, 13):
            diffs = [1.0] * b + [-1.0] * c + [0.0] * 7
            p = paired_p(b, c)
            assert p == pytest.approx(mcnemar_exact(b, c))
            low, high = difference_interval(diffs)
            assert (p < 0.05) == (low > 0 or high < 0), (b, c)
    assert paired_p(19 * 2 / 3, 0) < 0.05, "all-attempts: every task 3/3 then 1/3"
    assert paired_p(1 / 3, 1 / 3) == 1.0


# --- rank groups ----------------------------------------------------------------------------

def _board(rng: random.Random, n_models: int, n_tasks: int, n_repos: int, names: list[str]) -> dict:
    ids = tuple(f"r{i % n_repos}__x-{i}" for i in range(n_tasks))
    strengths = [rng.choice((0.05, 0.3, 0.5, 0.7, 0.95)) for _ in range(n_models)]
    ease = [rng.random() for _ in ids]
    verdicts = {}
    for name, s in zip(names, strengths):
        verdicts[name] = {t: ["resolved" if e < s else "unresolved"] for t, e in zip(ids, ease)}
        for t in rng.sample(ids, k=rng.randint(0, 3)):  # a little noise
            verdicts[name][t] = ["unresolved" if verdicts[name][t] == ["resolved"] else "resolved"]
    batches = {name: {t: [attempt(1)] for t in ids} for name in names}
    return manifest("R", json.loads(json.dumps(batches)), verdicts, ids=ids)


def _groups(m):
    return {r["model"]: r["rank_group"] for r in leaderboard_rows([m])}


def test_rank_groups_agree_with_pairwise_are_ordered_by_pass1_and_ignore_names():
    rng = random.Random(16)
    boards_with_apart = multi_group = 0
    for _ in range(150):
        n = rng.randint(3, 6)
        names = [f"m{i}" for i in range(n)]
        m = _board(rng, n, rng.randint(12, 40), rng.randint(2, 6), names)
        rows = {r["model"]: r for r in leaderboard_rows([m])}
        groups = {k: r["rank_group"] for k, r in rows.items()}
        pairs = pairwise_rows(m)
        for p in pairs:
            if p["distinguishable"]:
                assert groups[p["model_a"]] != groups[p["model_b"]], ("same group, told apart", p)
        for a in rows:
            for b in rows:
                if rows[a]["pass@1"] > rows[b]["pass@1"]:
                    assert groups[a] <= groups[b], "groups follow the tested metric"
        renamed = {name: f"z{n - i}" for i, name in enumerate(names)}  # reverses alphabetical order
        m2 = json.loads(json.dumps(m))
        m2["batches"] = {renamed[k]: v for k, v in m["batches"].items()}
        m2["evaluations"] = {renamed[k]: v for k, v in m["evaluations"].items()}
        assert {renamed[k]: g for k, g in groups.items()} == _groups(m2), "a name never moves a model"
        boards_with_apart += any(p["distinguishable"] for p in pairs)
        multi_group += max(groups.values()) >= 3
    assert boards_with_apart > 50 and multi_group > 10, "the generator must exercise the tests and Holm"


def test_rank_is_one_plus_the_rows_significantly_better_on_any_board():
    rng = random.Random(28)
    shared = 0
    for _ in range(120):
        n = rng.randint(3, 6)
        m = _board(rng, n, rng.randint(12, 40), rng.randint(2, 6), [f"m{i}" for i in range(n)])
        rows = {r["model"]: r for r in leaderboard_rows([m])}
        apart = {frozenset((p["model_a"], p["model_b"])) for p in pairwise_rows(m) if p["distinguishable"]}
        for a, row in rows.items():
            better = [b for b in rows if rows[b]["pass@1"] > row["pass@1"] and frozenset((a, b)) in apart]
            assert row["rank"] == 1 + len(better), (a, row["rank"], better)
        ranks = [r["rank"] for r in rows.values()]
        shared += len(set(ranks)) < len(ranks)
    assert shared > 30, "the generator must make rows share a rank"


def test_the_baseline_is_out_of_the_models_holm_family():
    """The issue's case: 20 tasks, a 10/20, b 4/20 are told apart whatever the floor does."""
    ids = tuple(f"r{i % 4}__x-{i}" for i in range(20))
    verdicts = {"a": {t: ["resolved" if i < 10 else "unresolved"] for i, t in enumerate(ids)},
                "b": {t: ["resolved" if i < 4 else "unresolved"] for i, t in enumerate(ids)},
                "base": {t: ["unresolved"] for t in ids}}
    m = manifest("R", {x: {t: [attempt(1)] for t in ids} for x in verdicts}, verdicts, ids=ids)
    m["batches"]["base"]["kind"] = "baseline"
    pairs = {(p["model_a"], p["model_b"]): p for p in pairwise_rows(m)}
    assert pairs[("a", "b")]["family"] == "models" and pairs[("a", "b")]["p_holm"] == pytest.approx(0.03125)
    assert pairs[("a", "b")]["distinguishable"] and pairs[("a", "b")]["diff_ci_high"] < 0
    assert pairs[("a", "base")]["family"] == pairs[("b", "base")]["family"] == "vs baseline"
    rows = {r["model"]: r for r in leaderboard_rows([m])}
    assert (rows["a"]["rank"], rows["b"]["rank"], rows["base"].get("rank", "")) == (1, 2, "")
    assert rows["a"]["beats_baseline"] is True and rows["b"]["beats_baseline"] is False, "4 flips: p = 0.125"
    assert "beats_baseline" not in rows["base"]


def test_a_pairwise_row_never_shows_an_interval_excluding_0_beside_not_distinguishable_alone():
    rng = random.Random(5)
    for _ in range(60):
        m = _board(rng, 4, rng.randint(8, 30), 3, ["m0", "m1", "m2", "m3"])
        for p in pairwise_rows(m):
            if p["p_holm"] == p["p_value"]:  # no adjustment: the interval and the test are one decision
                assert (p["diff_ci_low"] > 0 or p["diff_ci_high"] < 0) == p["distinguishable"], p


def test_k3_groups_are_tested_on_pass1_not_within_k():
    """Early stopping, K = 3: A resolves more tasks on the first attempt; B only within three."""
    ids = tuple(f"r{i % 4}__x-{i}" for i in range(16))
    a_tasks = {t: [attempt(1)] for t in ids}
    b_tasks = {t: [attempt(1), attempt(2)] for t in ids}
    verdicts = {"a": {t: ["resolved"] if i < 12 else ["unresolved"] for i, t in enumerate(ids)},
                "b": {t: ["unresolved", "resolved"] for t in ids}}
    for t in ids[12:]:
        a_tasks[t] = [attempt(1), attempt(2), attempt(3)]
        verdicts["a"][t] = ["unresolved"] * 3
    m = manifest("R", {"a": a_tasks, "b": b_tasks}, verdicts, ids=ids)
    m["batches"]["b"]["attempts_per_task"] = 3  # both ran with K = 3; b stopped early everywhere
    rows = {r["model"]: r for r in leaderboard_rows([m])}
    [pair] = pairwise_rows(m)
    assert rows["a"]["pass@1"] == 0.75 and rows["b"]["pass@1"] == 0.0 and rows["b"]["pass@K"] == 1.0
    assert pair["distinguishable"] and rows["a"]["rank_group"] < rows["b"]["rank_group"]


# --- the reproduction gate ------------------------------------------------------------------

def _pair(home, a_verdicts, b_verdicts, ids, stop=True, attempts=1):
    tasks = {t: [attempt(k + 1) for k in range(attempts)] for t in ids}
    _write(home / "runs", manifest("A", {"m": json.loads(json.dumps(tasks))}, {"m": a_verdicts}, ids=ids,
                                   stop_after_resolved=stop))
    _write(home / "runs", manifest("B", {"m": json.loads(json.dumps(tasks))}, {"m": b_verdicts}, ids=ids,
                                   stop_after_resolved=stop))
    comparisons, _, _ = compare("A", "B")
    return comparisons, reproduction_gate(comparisons)


def test_a_big_loss_never_passes_as_reproduction(home):
    ids = tuple(f"r{i % 6}__x-{i}" for i in range(19))
    a = {t: ["resolved" if i < 10 else "unresolved"] for i, t in enumerate(ids)}
    b = {t: ["resolved" if i < 5 else "unresolved"] for i, t in enumerate(ids)}
    [c], (_, state, detail) = _pair(home, a, b, ids)
    assert state == NA and "cannot show either" in detail, "5 lost, 0 gained: not significant, but not shown equal"
    assert c.test.diff == pytest.approx(-5 / 19, abs=1e-4) and c.test.ci_low < -5 / 19


def test_a_significant_change_fails_the_gate(home):
    ids = tuple(f"r{i % 6}__x-{i}" for i in range(19))
    a = {t: ["resolved" if i < 15 else "unresolved"] for i, t in enumerate(ids)}
    b = {t: ["resolved" if i < 3 else "unresolved"] for i, t in enumerate(ids)}
    [c], (_, state, detail) = _pair(home, a, b, ids)
    assert state == FAIL and c.moved and "m -0.632" in detail


def test_all_attempts_changes_in_pass1_are_seen(home):
    """Every task 3/3 then 1/3: resolved-within-K is identical, pass@1 fell from 1.00 to 0.33."""
    ids = tuple(f"r{i % 6}__x-{i}" for i in range(19))
    [c], (_, state, _) = _pair(home, {t: ["resolved"] * 3 for t in ids},
                               {t: ["resolved", "unresolved", "unresolved"] for t in ids}, ids, stop=False, attempts=3)
    assert c.rate_a == 1.0 and c.rate_b == pytest.approx(0.3333, abs=1e-4)
    assert state == FAIL


def test_equivalence_passes_only_when_the_interval_is_inside_delta(home):
    ids = tuple(f"r{i % 40}__x-{i}" for i in range(800))
    same = {t: ["resolved" if i % 2 else "unresolved"] for i, t in enumerate(ids)}
    [c], (_, state, detail) = _pair(home, same, same, ids)
    assert state == PASS and -0.1 <= c.test.ci_low and c.test.ci_high <= 0.1, detail


def test_a_run_compared_with_itself_is_refused(home):
    with pytest.raises(SweboardError, match="compared with itself"):
        compare("A", "A")


# --- pass@K, unknowns, percentiles, reuse, slices --------------------------------------------

def test_pass_at_k_needs_k_attempts_on_every_task():
    ids = ("t1", "t2")
    m = manifest("R", {"m": {"t1": [attempt(1), attempt(2), attempt(3)], "t2": [attempt(1)]}},
                 {"m": {"t1": ["resolved", "unresolved", "resolved"], "t2": ["unresolved"]}}, ids=ids,
                 stop_after_resolved=False)
    row = batch_metrics(m, "m")
    assert row["pass@K"] == "" and row["pass@K_ci_low"] == "" and row["pass@1"] != ""
    assert row["status"].startswith("ok; pass@K empty: 1 tasks have fewer than K=3 attempts (t2)")


def test_unknown_is_empty_not_zero():
    m = manifest("R", {"m": {"t1": [attempt(1, cost=0.5)], "t2": [attempt(1, cost=0.5)]}},
                 {"m": {"t1": ["resolved"], "t2": ["resolved"]}})
    a1, a2 = m["batches"]["m"]["attempts"]["t1"][0], m["batches"]["m"]["attempts"]["t2"][0]
    a1["usage"].update({"answered_calls": 3, "cached_tokens": 0, "cached_tokens_calls": 0})
    del a2["usage"]
    a2["duration_seconds"] = None
    del m["batches"]["m"]["wall_seconds"]
    del m["evaluations"]["m"]["wall_seconds"]
    row = batch_metrics(m, "m")
    assert row["status"] == "ok"
    for col in ("cached_tokens", "reasoning_tokens", "cost_usd", "cost_per_task", "cost_per_resolved",
                "prompt_tokens", "agent_time_s", "wall_time_s", "eval_time_s"):
        assert row[col] == "", col
    assert row["attempt_wall_n"] == 1 and row["attempt_wall_p50_s"] == "", "one duration supports no median"


def test_percentiles_need_the_sample_to_support_them():
    m = manifest("R", {"m": {"t1": [attempt(1)], "t2": [attempt(1)]}}, {"m": {"t1": ["resolved"], "t2": ["resolved"]}})
    for i, per in enumerate(m["batches"]["m"]["attempts"].values()):
        per[0]["usage"]["latencies_s"] = [float(x) for x in range(i * 5, i * 5 + 5)]
    m["batches"]["m"]["attempts"]["t1"][0]["overhead_seconds"] = 2.5  # t2's start-up was not recorded
    row = batch_metrics(m, "m")
    assert (row["latency_n"], row["latency_p50_s"], row["latency_p90_s"], row["latency_p99_s"]) == (10, 4.0, 8.0, "")
    assert (row["overhead_n"], row["overhead_p50_s"]) == (1, ""), "one start-up supports no median"
    assert (row["attempt_wall_n"], row["attempt_wall_p50_s"], row["attempt_wall_p90_s"]) == (2, 1.0, "")


def test_load_dependent_verdicts_are_never_reused_and_reuse_is_counted(tmp_path):
    assert reusable({"verdict": "unresolved"}) and reusable({"verdict": "error", "error_class": "patch_apply_failed"})
    assert not reusable({"verdict": "error", "error_class": "test_timeout"})
    assert not reusable({"verdict": "error", "error_class": "evaluator_crash"})
    m = manifest("R", {"m": {"t1": [attempt(1)], "t2": [attempt(1)]}}, {"m": {"t1": ["resolved"], "t2": ["resolved"]}})
    m["evaluations"]["m"]["instances"]["t2"][0]["reused_from"] = "attempts/x/t2/attempt-1/verdict.json"
    rows = leaderboard_rows([m])
    assert rows[0]["verdicts_reused"] == 1
    out = write_csv(tmp_path / "b.csv", columns(), rows)
    assert next(csv.DictReader(out.open()))["verdicts_reused"] == "1"


def test_rows_are_ranked_only_within_one_slice_and_k():
    small = manifest("S", {"weak": {"t1": [attempt(1)], "t2": [attempt(1)]}},
                     {"weak": {"t1": ["resolved"], "t2": ["unresolved"]}})
    other = manifest("O", {"strong": {"u1": [attempt(1)], "u2": [attempt(1)]}},
                     {"strong": {"u1": ["resolved"], "u2": ["resolved"]}}, ids=("u1", "u2"))
    other["slice"]["instance_ids_sha256"] = "other"
    small2 = manifest("S2", {"mid": {"t1": [attempt(1)], "t2": [attempt(1)]}},
                      {"mid": {"t1": ["resolved"], "t2": ["unresolved"]}})
    rows = leaderboard_rows([small, other, small2])
    assert [r["model"] for r in rows] == ["mid", "weak", "strong"], "a better row of another slice ranks apart"


def test_every_curated_mutant_still_applies():
    """tools/run_mutants.py runs them (minutes); here only that the list follows the code."""
    from pathlib import Path

    from sweboard.benchmarks import mutation

    root = Path(__file__).resolve().parents[1]
    tests, mutants = mutation.load(root / "tests" / "mutants.yaml")
    mutation.check(root, mutants)
    assert len(mutants) >= 30 and all((root / t).is_file() for t in tests)


def test_the_baseline_ranks_at_the_runs_k_as_the_floor():
    """The no-patch baseline makes one attempt (it is deterministic) while models make K = 2."""
    ids = tuple(f"r{i % 3}__x-{i}" for i in range(12))
    m = manifest("R", {"m": {t: [attempt(1), attempt(2)] for t in ids}, "base": {t: [attempt(1)] for t in ids}},
                 {"m": {t: ["resolved", "resolved"] for t in ids}, "base": {t: ["empty_patch"] for t in ids}},
                 ids=ids, stop_after_resolved=False)
    rows = {r["model"]: r for r in leaderboard_rows([m])}
    assert (rows["m"]["K"], rows["base"]["K"]) == (2, 1)
    assert (rows["m"]["rank_group"], rows["base"]["rank_group"]) == (1, 2)
    [pair] = pairwise_rows(m)
    assert {pair["model_a"], pair["model_b"]} == {"m", "base"} and pair["distinguishable"]


# --- pinned details (each guards a mutant of tests/mutants.yaml) ------------------------------

def test_the_design_effect_weights_repos_by_their_size():
    from sweboard.intervals import design_effect

    assert design_effect(["a"] * 5 + ["b", "c", "d"]) == pytest.approx(1 + (28 / 8 - 1) * 0.35)
    assert design_effect(["a"] * 8) == 1.0


def test_bounds_are_rounded_outwards_and_one_success_is_not_zero():
    from scipy.stats import beta

    for x in range(1, 19):
        low, high = rate_interval([1.0] * x + [0.0] * (19 - x), [f"t{i}" for i in range(19)])
        assert low <= beta.ppf(0.025, x, 19 - x + 1) and high >= beta.ppf(0.975, x + 1, 19 - x), x
    assert rate_interval([1.0] + [0.0] * 9, list("abcdefghij"))[0] > 0


def test_identical_reruns_are_bounded_by_the_score_interval_not_a_bonferroni_split():
    assert difference_interval([0.0] * 19) == (-0.1682, 0.1682), "z^2 / (n + z^2) at 19 tasks, within +/-0.18"
    assert difference_interval([0.0] * 8) == (-0.3245, 0.3245)


def _restricted_score(b, c, n, d0):
    """Tango's score at d0 with the restricted MLE found numerically (independent of the closed form)."""
    from math import log, sqrt

    from scipy.optimize import minimize_scalar

    lo, hi = max(0.0, -d0), min(1.0, (1 - d0) / 2)  # p_loss; p_gain = p_loss + d0; p_gain + p_loss <= 1

    def nll(p):
        pg = p + d0
        return -sum(k * log(max(x, 1e-300)) for k, x in ((b, pg), (c, p), (n - b - c, 1 - pg - p)) if k)
    p = minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12}).x if hi > lo else lo
    return (b - c - n * d0) / sqrt(n * (2 * p + d0 * (1 - d0)))


@pytest.mark.parametrize("gains, losses, n", [(6, 0, 19), (1, 7, 21), (10, 3, 19), (4, 13, 1017), (2, 2, 8)])
def test_the_bounds_are_where_the_score_test_stops_rejecting(gains, losses, n):
    from sweboard.intervals import score_bounds

    low, high = (float(x) for x in score_bounds(gains, losses, n))
    assert _restricted_score(gains, losses, n, low) == pytest.approx(1.959964, abs=2e-3)
    assert _restricted_score(gains, losses, n, high) == pytest.approx(-1.959964, abs=2e-3)


def test_a_task_that_moved_by_a_third_is_a_third_of_a_flip():
    low3, high3 = difference_interval([1 / 3] * 9 + [0.0] * 10)
    low1, high1 = difference_interval([1.0] * 3 + [0.0] * 16)
    assert low3 <= 3 / 19 <= high3 and high3 - low3 < (high1 - low1) * 0.8, "all-attempts changes spread less"


def test_excludes_zero_exactly_when_the_exact_test_is_significant_for_every_count_up_to_60():
    """Decided before rounding: all b, c <= 60 with 0 to 1000 ties (b=4, c=13 with 1000 ties; b=57, c=81)."""
    import numpy as np

    from sweboard.intervals import difference_bounds

    b, c = (x.ravel() for x in np.meshgrid(np.arange(61), np.arange(61)))
    for ties in (0, 1, 2, 5, 10, 30, 100, 300, 1000):
        n = b + c + ties
        keep = n > 0
        low, high = difference_bounds(b[keep], c[keep], n[keep])
        excludes = (low > 0) | (high < 0)
        significant = np.array([mcnemar_exact(int(x), int(y)) < 0.05 for x, y in zip(b[keep], c[keep])])
        assert (excludes == significant).all(), (ties, list(zip(b[keep][excludes != significant][:3],
                                                              c[keep][excludes != significant][:3])))
        assert (low <= (b[keep] - c[keep]) / n[keep]).all() and ((b[keep] - c[keep]) / n[keep] <= high).all()
    assert difference_bounds(4, 13, 1017)[1] < 0 and difference_bounds(57, 81, 138)[0] < 0
    low, high = difference_bounds(6, 0, 30006)  # a bound under 1e-4: rounding must not put 0 back in
    assert mcnemar_exact(6, 0) < 0.05 and float(low) == 0.0001 and float(high) > low
    low, high = difference_bounds(0, 6, 30006)
    assert float(high) == -0.0001


def test_pairs_are_holm_adjusted_over_the_run():
    ids = tuple(f"r{i % 4}__x-{i}" for i in range(20))
    verdicts = {"a": {t: ["resolved" if i < 10 else "unresolved"] for i, t in enumerate(ids)},
                "b": {t: ["resolved" if i < 4 else "unresolved"] for i, t in enumerate(ids)},
                "c": {t: ["resolved" if i < 9 else "unresolved"] for i, t in enumerate(ids)}}
    m = manifest("R", {x: {t: [attempt(1)] for t in ids} for x in "abc"}, verdicts, ids=ids)
    pair = {(p["model_a"], p["model_b"]): p for p in pairwise_rows(m)}[("a", "b")]
    assert pair["p_value"] == pytest.approx(0.03125) and pair["p_holm"] == pytest.approx(0.09375)
    assert not pair["distinguishable"]


def test_tokens_some_calls_did_not_report_are_empty_and_all_reported_are_summed():
    m = manifest("R", {"m": {"t1": [attempt(1)], "t2": [attempt(1)]}}, {"m": {"t1": ["resolved"], "t2": ["resolved"]}})
    a1, a2 = (m["batches"]["m"]["attempts"][t][0] for t in ("t1", "t2"))
    a1["usage"].update({"answered_calls": 3, "cached_tokens": 5, "cached_tokens_calls": 3})
    a2["usage"].update({"answered_calls": 3, "cached_tokens": 7, "cached_tokens_calls": 2})
    assert batch_metrics(m, "m")["cached_tokens"] == ""
    a2["usage"]["cached_tokens_calls"] = 3
    assert batch_metrics(m, "m")["cached_tokens"] == 12


def test_rows_of_another_k_rank_apart():
    k1 = manifest("A", {"one": {"t1": [attempt(1)], "t2": [attempt(1)]}},
                  {"one": {"t1": ["resolved"], "t2": ["unresolved"]}})
    k2 = manifest("B", {"two": {"t1": [attempt(1), attempt(2)], "t2": [attempt(1)]}},
                  {"two": {"t1": ["resolved", "resolved"], "t2": ["resolved"]}}, stop_after_resolved=False)
    k1b = manifest("C", {"again": {"t1": [attempt(1)], "t2": [attempt(1)]}},
                   {"again": {"t1": ["unresolved"], "t2": ["unresolved"]}})
    assert [r["model"] for r in leaderboard_rows([k1, k2, k1b])] == ["one", "again", "two"]


def test_the_reproduction_gate_adjusts_over_the_models(home):
    ids = tuple(f"r{i % 6}__x-{i}" for i in range(19))
    tasks = {t: [attempt(1)] for t in ids}
    a = {"m1": {t: ["resolved" if i < 10 else "unresolved"] for i, t in enumerate(ids)},
         "m2": {t: ["resolved"] for t in ids}}
    b = {"m1": {t: ["resolved" if 6 <= i < 10 else "unresolved"] for i, t in enumerate(ids)},
         "m2": {t: ["resolved"] for t in ids}}
    for run, verdicts in (("A", a), ("B", b)):
        _write(home / "runs", manifest(run, {x: json.loads(json.dumps(tasks)) for x in ("m1", "m2")}, verdicts, ids=ids))
    comparisons, _, _ = compare("A", "B")
    m1 = {c.model: c for c in comparisons}["m1"]
    assert m1.test.p_value == pytest.approx(0.03125) and m1.p_holm == pytest.approx(0.0625) and not m1.moved
    assert reproduction_gate(comparisons)[1] == NA


def test_pass_hat_k_is_reliability_beside_reach_under_all_attempts():
    from sweboard.leaderboard import pass_hat_k

    assert pass_hat_k(3, 3, 3) == 1.0 and pass_hat_k(3, 2, 3) == 0.0 and pass_hat_k(4, 3, 2) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        pass_hat_k(2, 2, 3)
    ids = tuple(f"r{i % 2}__x-{i}" for i in range(6))
    outcomes = [["resolved"] * 3, ["resolved"] * 3, ["resolved", "unresolved", "resolved"], ["unresolved"] * 3,
                ["unresolved", "resolved", "unresolved"], ["unresolved"] * 3]
    verdicts = {"m": dict(zip(ids, outcomes))}
    m = manifest("R", {"m": {t: [attempt(k + 1) for k in range(3)] for t in ids}}, verdicts, ids=ids,
                 stop_after_resolved=False)
    row = batch_metrics(m, "m")
    assert row["pass^K"] == round(2 / 6, 4) and row["pass@K"] == round(4 / 6, 4), "2 tasks always, 4 ever"
    assert (row["attempts_resolved"], row["attempts_unresolved"], row["attempts_empty"]) == (9, 9, 0), \
        "the outcome chart's attempt counts"
    assert row["pass^K_ci_low"] < row["pass^K"] < row["pass^K_ci_high"]
    early = manifest("R", {"m": {t: [attempt(1)] for t in ids}}, {"m": {t: ["resolved"] for t in ids}}, ids=ids)
    assert batch_metrics(early, "m").get("pass^K", "") == "", "early stopping never ran the K attempts"


def test_the_these_tasks_interval_covers_a_rerun_of_fixed_tasks():
    """Fixed, U-shaped task rates (what real tasks look like); K = 2 and 3 attempts each: the interval
    holds the tasks' mean rate at least 95 % of the time, and is narrower than the tasks-like-these one."""
    import numpy as np

    from sweboard.intervals import these_tasks_interval

    rng = np.random.default_rng(3)
    for n, k in ((8, 2), (19, 3), (10, 3)):
        p = rng.beta(0.2 * 0.4, 0.2 * 0.6, size=n)
        hits = rng.binomial(k, p, size=(3000, n)).sum(axis=1)
        covered = np.mean([lo <= p.mean() <= hi for lo, hi in (these_tasks_interval(int(h), n * k) for h in hits)])
        assert covered >= 0.95, (n, k, covered)
    ids = tuple(f"r{i % 3}__x-{i}" for i in range(9))
    m = manifest("R", {"m": {t: [attempt(1), attempt(2)] for t in ids}},
                 {"m": {t: ["resolved", "unresolved"] if i % 2 else ["resolved"] * 2 for i, t in enumerate(ids)}},
                 ids=ids, stop_after_resolved=False)
    row = batch_metrics(m, "m")
    assert row["pass@1_these_tasks_ci_low"] <= row["pass@1"] <= row["pass@1_these_tasks_ci_high"]
    assert row["pass@1_these_tasks_ci_high"] - row["pass@1_these_tasks_ci_low"] < row["pass@1_ci_high"] - row["pass@1_ci_low"]
    one = manifest("R", {"m": {t: [attempt(1)] for t in ids}}, {"m": {t: ["resolved"] for t in ids}}, ids=ids,
                   stop_after_resolved=False)
    assert batch_metrics(one, "m").get("pass@1_these_tasks_ci_low", "") == "", "K = 1: no within-task spread"


# --- what mutmut found unguarded (tools/run_mutants.py --mutmut) -------------------------------

def test_the_exact_test_refuses_negative_counts_and_knows_its_threshold():
    from sweboard.stats import min_detectable_flips, min_flips_to_detect

    for b, c in ((-1, 2), (2, -1)):
        with pytest.raises(ValueError, match="counts must be >= 0"):
            mcnemar_exact(b, c)
    assert mcnemar_exact(0, 0) == 1.0 and mcnemar_exact(5, 0) == 0.0625 and mcnemar_exact(6, 0) == 0.03125
    assert min_flips_to_detect() == 6 and min_flips_to_detect(0.01) == 8
    assert min_detectable_flips(5) is None and min_detectable_flips(6) == 6 and min_detectable_flips(19) == 6


def test_runs_that_differ_only_in_their_run_settings_are_refused(home):
    """No model in common: the run-level settings alone decide (each of K, stopping policy, runner)."""
    for key, other in (("attempts", 3), ("stop_after_resolved", False), ("runner", "sweagent")):
        for run_id in ("A", "B"):
            if (home / "runs" / run_id).exists():
                import shutil
                shutil.rmtree(home / "runs" / run_id)
        a = manifest("A", {"x": {"t1": [attempt(1)]}}, {"x": {"t1": ["resolved"]}})
        b = manifest("B", {"y": {"t1": [attempt(1)]}}, {"y": {"t1": ["resolved"]}})
        b["runner_config"][key] = other
        _write(home / "runs", a)
        _write(home / "runs", b)
        name = {"attempts": "K", "stop_after_resolved": "stopping policy", "runner": "runner"}[key]
        with pytest.raises(SweboardError, match=f"not the same experiment \\({name}: "):
            compare("A", "B")
    b["runner_config"] = {}
    (home / "runs" / "B" / "manifest.json").write_text(json.dumps(b))
    with pytest.raises(SweboardError, match="K: 2 vs None"):
        compare("A", "B")


def test_compare_runs_prints_each_models_change_and_its_tasks(home):
    from sweboard.compare import render

    ids = tuple(f"r{i % 6}__x-{i}" for i in range(19))
    a = {t: ["resolved" if i < 15 else "unresolved"] for i, t in enumerate(ids)}
    b = {t: ["resolved" if 3 <= i < 16 else "unresolved"] for i, t in enumerate(ids)}
    comparisons, _ = _pair(home, a, b, ids)
    lines = render("A", "B", comparisons, [("a gate", PASS, "why")], 0.1)
    assert lines[0].split() == ["model", "kind", "pass@1", "A", "pass@1", "B", "paired", "by", "task"]
    assert lines[1].startswith("m") and "0.789" in lines[1] and "0.684" in lines[1] and "undecided" in lines[1]
    assert "3 tasks better in A, 1 in B" in lines[1] and "exact paired p = 0.625" in lines[1]
    assert lines[2] == "    better in A: r0__x-0, r1__x-1, r2__x-2" and lines[3] == "    better in B: r3__x-15"
    assert lines[-1] == "PASS  a gate: why"
    missing = comparisons[0].__class__("gone", "model", None, None, None, "A: failed")
    assert render("A", "B", [missing], [], 0.1)[1].endswith("not compared (A: failed)")


def _two_runs(home, a, b):
    import shutil

    for run_id in ("A", "B"):
        if (home / "runs" / run_id).exists():
            shutil.rmtree(home / "runs" / run_id)
    _write(home / "runs", a)
    _write(home / "runs", b)


def test_each_experiment_setting_is_named_when_two_runs_differ(home):
    """Run level (slice, dataset revision) and each model's batch (K, stopping policy, runner)."""
    def pair():
        a = manifest("A", {"m": {"t1": [attempt(1)]}}, {"m": {"t1": ["resolved"]}})
        return a, json.loads(json.dumps({**a, "run_id": "B"}))

    cases = [(lambda m: m["slice"].update(instance_ids_sha256="h2"), "slice: 'h' vs 'h2'"),
             (lambda m: m["dataset_lock"].update(revision="s" * 40), "dataset revision: 'rrrr"),
             (lambda m: m["batches"]["m"].update(attempts_per_task=3), "K: 1 vs 3"),
             (lambda m: m["batches"]["m"].update(stop_after_resolved=False), "stopping policy: True vs False"),
             (lambda m: m["batches"]["m"].update(runner="sweagent"), "runner: 'mini' vs 'sweagent'")]
    for change, said in cases:
        a, b = pair()
        change(b)
        _two_runs(home, a, b)
        with pytest.raises(SweboardError) as err:
            compare("A", "B")
        assert str(err.value).startswith("runs A and B are not the same experiment (") and said in str(err.value), \
            str(err.value)
    a, b = pair()
    for m in (a, b):  # a batch without its own settings falls back to the run's
        for key in ("attempts_per_task", "stop_after_resolved", "runner"):
            m["batches"]["m"].pop(key)
    b["runner_config"]["runner"] = "sweagent"
    _two_runs(home, a, b)
    with pytest.raises(SweboardError, match=r"not the same experiment \(runner: 'mini' vs 'sweagent'\); not comparable"):
        compare("A", "B")


def test_a_model_not_scored_in_a_run_is_named_and_the_others_still_compared(home):
    ids = ("t1", "t2")
    a = manifest("A", {"bad": {t: [attempt(1)] for t in ids}, "good": {t: [attempt(1)] for t in ids}},
                 {"bad": {t: ["resolved"] for t in ids}, "good": {t: ["resolved"] for t in ids}})
    b = json.loads(json.dumps({**a, "run_id": "B"}))
    b["batches"]["bad"]["status"] = "failed (provider gone)"
    _two_runs(home, a, b)
    bad, good = compare("A", "B")[0]
    assert (bad.model, bad.kind, bad.test, bad.why_not) == ("bad", "model", None, "B: failed (provider gone)")
    assert good.model == "good" and good.test is not None and good.test.n == 2
    a["batches"]["bad"]["status"] = "stopped (budget)"
    _two_runs(home, a, b)
    assert compare("A", "B")[0][0].why_not == "A: stopped (budget); B: failed (provider gone)"


def test_the_gates_say_exactly_why_and_judge_at_their_thresholds(home):
    from sweboard.compare import gates, variance_gate

    ids = tuple(f"t{i}" for i in range(4))
    one = {t: [attempt(1)] for t in ids}
    no_base = manifest("A", {"m": one}, {"m": {t: ["resolved"] for t in ids}}, ids=ids)
    assert gates(no_base, [])[0] == ("best model >= 1.5x the no-patch baseline", NA, "no baseline row in this run")
    m = manifest("A", {"m": one, "base": one}, {"m": {t: ["resolved"] for t in ids}, "base": {t: ["empty_patch"] for t in ids}},
                 ids=ids)
    m["batches"]["m"]["status"] = "failed (x)"
    first, rare = gates(m, [])
    assert first[1:] == (NA, "no model row with status ok") and rare[1:] == (NA, "no graded model attempts")
    # exactly 1.5x passes; 0 never does
    for base_hits, m_hits, state in ((2, 3, PASS), (0, 0, FAIL)):
        v = {"m": {t: ["resolved" if i < m_hits else "unresolved"] for i, t in enumerate(ids)},
             "base": {t: ["resolved" if i < base_hits else "empty_patch"] for i, t in enumerate(ids)}}
        g = gates(manifest("A", {"m": one, "base": one, "n": one}, {**v, "n": {t: ["unresolved"] for t in ids}},
                           ids=ids), [])
        assert g[0][1] == state, (base_hits, m_hits, g[0])
        if state == PASS:
            assert g[0][2] == "m pass@K 0.750 vs baseline pass@1 0.500", "the best model is named"
    assert variance_gate(m, m, []) == ("reruns reproduce within normal variance (flip rate on these tasks)", NA,
                                       "no model graded in both runs")


def test_the_gate_lines_join_every_model(home):
    from sweboard.compare import variance_gate

    ids = tuple(f"r{i % 4}__x-{i}" for i in range(12))
    tasks = {t: [attempt(1), attempt(2)] for t in ids}
    same = {t: ["resolved", "resolved"] if i < 6 else ["unresolved", "unresolved"] for i, t in enumerate(ids)}
    for run_id in ("A", "B"):
        _write(home / "runs", manifest(run_id, {"m1": json.loads(json.dumps(tasks)), "m2": json.loads(json.dumps(tasks))},
                                       {"m1": same, "m2": same}, ids=ids, stop_after_resolved=False))
    comparisons, a, b = compare("A", "B")
    name, state, detail = variance_gate(a, b, comparisons)
    assert state == PASS and detail.count("; ") == 1 and detail.startswith("m1: 0/12 tasks flipped")
    name, state, detail = reproduction_gate(comparisons)
    assert state == NA and detail.startswith("cannot show either: m1 +0.000 [") and "; m2 +0.000 [" in detail
    for m in (a, b):
        m["batches"]["m1"]["stop_after_resolved"] = True
    name, state, detail = variance_gate(a, b, comparisons)
    assert (state, detail) == (NA, "no reference flip rate for m1: it comes from a run's own attempts; run with "
                                   "--all-attempts and K >= 2 (--attempts 2)")
    baseline_only = [c for c in comparisons]
    for c in baseline_only:
        c.kind = "baseline"
    assert variance_gate(a, b, baseline_only)[1:] == (NA, "no model graded in both runs")


def test_fractional_counts_use_their_own_beta_tails():
    """All-attempts counts are fractions (thirds): the p-value and the bounds use them as they are."""
    from scipy.stats import beta

    from sweboard.intervals import exact_bounds, exact_paired_p

    for g, l in ((1 / 3, 0.0), (2 / 3, 1 / 3), (1.0, 0.5), (0.5, 2.0)):
        d = g + l
        upper = 1.0 if g <= 0 else beta.cdf(0.5, g, d - g + 1)
        lower = 1.0 if l <= 0 else beta.sf(0.5, g + 1, d - g)
        assert float(exact_paired_p(g, l)) == pytest.approx(min(1.0, 2 * min(upper, lower)), rel=1e-9), (g, l)
    low, high = exact_bounds(0.5, 4.0)
    assert float(low) == pytest.approx(float(np.floor(beta.ppf(0.025, 0.5, 4.5) * 1e4) / 1e4))
    assert float(high) == pytest.approx(float(np.ceil(beta.ppf(0.975, 1.5, 3.5) * 1e4) / 1e4))
    assert exact_bounds(-1.0, 4.0) == (0.0, pytest.approx(float(np.ceil(beta.ppf(0.975, 1, 4) * 1e4) / 1e4)))
    assert float(exact_bounds(5.0, 4.0)[1]) == 1.0 and float(exact_bounds(5.0, 4.0)[0]) > 0.3


def test_paired_counts_only_the_tasks_both_graded():
    from sweboard.stats import paired

    t = paired({"x": 1.0, "y": 0.0, "z": 1.0, "w": 0.5, "only-a": 1.0}, {"x": 1.0, "y": 0.0, "z": 0.0, "w": 0.5,
                                                                         "only-b": 1.0})
    assert (t.n, t.only_a, t.only_b, t.both, t.diff) == (4, ["z"], [], 2, -0.25)
    assert t.statement() == ("pass@1 change -0.250 (95% interval " + f"{t.ci_low:+.3f} to {t.ci_high:+.3f}); "
                             "exact paired p = 1 (1 tasks better in A, 0 in B)")
    gained = paired({"a": 0.0, "b": 0.0}, {"a": 1 / 3, "b": 1.0})
    assert gained.diff == 0.6667 and gained.p_value == pytest.approx(float(
        __import__("sweboard.intervals", fromlist=["x"]).exact_paired_p(4 / 3, 0)))
    assert paired({}, {}).diff == 0.0 and paired({}, {}).n == 0


def test_rate_interval_edges():
    assert rate_interval([], []) == (0.0, 1.0)
    for values, clusters in (([0.5], ["a", "b"]), ([1.5], ["a"]), ([-0.1], ["a"])):
        with pytest.raises(ValueError, match="rate_interval: one cluster per task and values within \\[0, 1\\] expected"):
            rate_interval(values, clusters)
    low, high = rate_interval([1.0], ["a"])
    assert 0 < low < 1 and high == 1.0


def test_mutmut_equivalents_are_patterns_with_reasons():
    from pathlib import Path

    from sweboard.benchmarks.mutmut_run import equivalents, parse, why_equivalent

    known = equivalents(Path(__file__).with_name("mutmut_equivalent.yaml"))
    assert known and all(why for _, _, why in known)
    assert why_equivalent("sweboard.intervals.x_exact_bounds__mutmut_7",
                          ["    with np.errstate(invalid=None):"], known).startswith("numpy's warning state")
    assert why_equivalent("sweboard.stats.x_paired__mutmut_1", ["    with np.errstate(invalid=None):"], known) == "", \
        "a pattern holds for its own file only"
    assert parse("    sweboard.stats.x_holm__mutmut_2: survived\nnoise\n") == [("sweboard.stats.x_holm__mutmut_2", "survived")]
