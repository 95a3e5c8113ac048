"""Power before spending (issue 28): the plan's lines come from the board's own exact test, and a
simulation of that test agrees with them."""

import numpy as np
import pytest

from sweboard import power
from sweboard.rerun_gate import judge
from sweboard.stats import mcnemar_exact


def _simulated_power(n, p_a, p_b, reps=4000, seed=7):
    rng = np.random.default_rng(seed)
    a, b = rng.random((reps, n)) < p_a, rng.random((reps, n)) < p_b
    gains, losses = (b & ~a).sum(axis=1), (a & ~b).sum(axis=1)
    return float(np.mean([mcnemar_exact(int(g), int(l)) < 0.05 for g, l in zip(gains, losses)]))


@pytest.mark.parametrize("n, p_a, p_b", [(8, 0.3, 0.6), (19, 0.3, 0.6), (19, 0.25, 0.75), (50, 0.3, 0.6)])
def test_the_exact_power_agrees_with_a_simulation_of_the_test(n, p_a, p_b):
    assert power.paired_power(n, p_a, p_b) == pytest.approx(_simulated_power(n, p_a, p_b), abs=0.025)


def test_the_slices_of_the_plan_are_underpowered_and_say_so():
    assert power.paired_power(8, 0.3, 0.6) < 0.1 and 0.25 < power.paired_power(19, 0.3, 0.6) < 0.55
    need = power.tasks_to_separate(0.3, 0.6)
    assert power.paired_power(need, 0.3, 0.6) >= 0.8 > power.paired_power(need - 1, 0.3, 0.6)
    assert power.smallest_detectable_difference(3) is None, "3 tasks: nothing reaches 80 %"
    d19 = power.smallest_detectable_difference(19)
    assert power.paired_power(19, 0.5 - d19 / 2, 0.5 + d19 / 2) >= 0.8
    assert power.paired_power(19, 0.5 - (d19 - 0.01) / 2, 0.5 + (d19 - 0.01) / 2) < 0.8
    assert power.smallest_detectable_difference(100) < d19 < power.smallest_detectable_difference(8)


@pytest.mark.parametrize("n", [8, 19])
def test_the_rerun_gates_pass_probability_matches_the_gate_itself(n):
    rng = np.random.default_rng(11)
    passes = 0
    for _ in range(3000):
        flips = rng.random(n) < 0.1
        first = {f"t{i}": bool(rng.random() < 0.5) for i in range(n)}
        second = {t: (not v) if flips[i] else v for i, (t, v) in enumerate(first.items())}
        passes += judge("m", first, second, 0.1).ok
    assert power.rerun_pass_probability(n, 0.1) == pytest.approx(passes / 3000, abs=0.02)


def test_the_plan_prints_the_power_lines():
    text = "\n".join(power.lines(19, models=2))
    assert "smallest pass@1 difference between two models found with 80% power is 0.50" in text
    assert "to tell 0.3 from 0.6 with 80% power the paired test needs 50 tasks" in text
    assert "identical rerun passes with probability" in text
