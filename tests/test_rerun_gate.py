"""The plan's rerun gate (rerun_gate.py): identical-process reruns pass, real changes fail, on the
plan's slice sizes; simulated with a fixed seed so a failure is reproducible."""

import numpy as np
import pytest

from sweboard.rerun_gate import band, judge, pair_disagreement, sum_distribution


def test_within_task_disagreement_and_the_exact_band():
    assert pair_disagreement([True, False, True]) == pytest.approx(2 / 3)
    assert pair_disagreement([True, True]) == 0.0 and pair_disagreement([True]) is None
    dist = sum_distribution(19, 0.1)
    assert dist.sum() == pytest.approx(1.0) and dist[-1] == pytest.approx(0.05 ** 19) and dist[19] > 0.9 ** 19
    assert np.allclose(dist, dist[::-1]), "a gain and a loss are equally likely"
    k = band(19, 0.1, 0.95)
    assert dist[19 - k:19 + k + 1].sum() >= 0.95 > dist[19 - k + 1:19 + k].sum(), "the smallest such band"
    assert band(19, 0.0, 0.95) == 0


def test_a_flip_at_a_zero_reference_rate_fails_and_no_reference_is_na():
    fa = {f"t{i}": i < 5 for i in range(10)}
    assert judge("m", fa, dict(fa), 0.0).ok
    moved = {**fa, "t0": False}
    assert not judge("m", fa, moved, 0.0).ok
    assert not judge("m", fa, dict(fa), None).ok and "no reference" in judge("m", fa, fa, None).line()


def simulate(rng, n, p_a, p_b, k=3, reps=400):
    """Share of reps that PASS: per task, true rates p_a (run A) and p_b (run B); each run makes k
    attempts per task; the reference rate is each run's own within-task disagreement, averaged."""
    passed = 0
    for _ in range(reps):
        runs = [rng.random((n, k)) < p[:, None] for p in (p_a, p_b)]
        refs = [np.mean([pair_disagreement(list(row)) for row in r]) for r in runs]
        fa = {f"t{i}": bool(runs[0][i, 0]) for i in range(n)}
        fb = {f"t{i}": bool(runs[1][i, 0]) for i in range(n)}
        passed += judge("m", fa, fb, float(np.mean(refs))).ok
    return passed / reps


def u_shaped(rng, n, flip_rate):
    """Per-task rates from Beta(a, a), U-shaped as real tasks are, with E[2p(1-p)] = flip_rate."""
    a = flip_rate / (1 - 2 * flip_rate)
    return rng.beta(a, a, n)


def test_identical_reruns_pass_and_changes_fail_at_the_plans_sizes():
    rng = np.random.default_rng(20261202)
    p = u_shaped(rng, 19, 0.10)
    assert simulate(rng, 19, p, p) >= 0.8, "an identical-process rerun on 19 tasks at a 10 % flip rate"
    # 10/19 -> 5/19: five tasks the agent solved (at a 10 % flip rate) it no longer solves
    a = np.where(np.arange(19) < 10, 0.95, 0.02)
    b = np.where(np.arange(19) < 5, 0.95, 0.02)
    assert 1 - simulate(rng, 19, a, b) >= 0.8
    # 0/10 -> 5/10
    a, b = np.full(10, 0.02), np.where(np.arange(10) < 5, 0.95, 0.02)
    assert 1 - simulate(rng, 10, a, b) >= 0.8


def _runs(home, first_b):
    """Runs A and B of one model on 19 tasks, K = 3, every attempt: tasks 0-9 solved, 10-11 a coin
    (one attempt of three solved), the rest not; B's first attempts as `first_b` gives them."""
    import json

    from test_leaderboard import _write, attempt, manifest

    ids = tuple(f"r{i % 6}__x-{i}" for i in range(19))
    tasks = {t: [attempt(k) for k in (1, 2, 3)] for t in ids}

    def verdicts(first):
        out = {}
        for i, t in enumerate(ids):
            rest = ["resolved"] * 2 if i < 10 else (["unresolved", "resolved"] if i < 12 else ["unresolved"] * 2)
            out[t] = ["resolved" if first(i) else "unresolved", *rest]
        return out

    _write(home / "runs", manifest("A", {"m": json.loads(json.dumps(tasks))}, {"m": verdicts(lambda i: i < 10)},
                                   ids=ids, stop_after_resolved=False))
    _write(home / "runs", manifest("B", {"m": json.loads(json.dumps(tasks))}, {"m": verdicts(first_b)},
                                   ids=ids, stop_after_resolved=False))


def test_the_gate_through_compare_passes_a_rerun_within_variance_and_fails_a_loss(home):
    from sweboard.compare import FAIL, PASS, compare, gates

    _runs(home, lambda i: i < 10 or i == 11)  # one coin task came up the other way
    comparisons, a, b = compare("A", "B")
    name, state, detail = gates(b, comparisons, first=a)[2]
    assert name.startswith("reruns reproduce within normal variance") and state == PASS, detail
    assert "1/19 tasks flipped (net +1" in detail

    import shutil

    shutil.rmtree(home / "runs" / "B")
    shutil.rmtree(home / "runs" / "A")
    _runs(home, lambda i: i < 5)  # five solved tasks lost on their first attempt
    comparisons, a, b = compare("A", "B")
    name, state, detail = gates(b, comparisons, first=a)[2]
    assert state == FAIL and "5/19 tasks flipped (net -5" in detail, detail
