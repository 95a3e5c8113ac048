"""What a slice can show before anything is spent: the paired test's power, the tasks two rates
need, and what the rerun gate can tell.

Why exact: the board decides with the exact McNemar test (`stats.mcnemar_exact`), so its power is
computed for that test, not for a normal approximation that flatters small slices. The outcome
model is stated, not hidden: two models' results on a task are independent given their rates
(each task gains with probability (1 - p_a) p_b and loses with p_a (1 - p_b)). Real tasks share
difficulty, which makes fewer tasks disagree for the same difference, so this is the cautious
side: a slice may show more than these lines promise, not less.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.stats import binom

from sweboard.stats import ALPHA

POWER = 0.8


def _critical(n: int, alpha: float) -> np.ndarray:
    return _critical_table(max(n, 2000), alpha)[:n + 1]


@lru_cache(maxsize=8)
def _critical_table(n: int, alpha: float) -> np.ndarray:
    """For d = 0..n flipped tasks: the largest k with 2 P(X <= k) < alpha, X ~ Binomial(d, 1/2)
    (-1 where no split of d flips rejects)."""
    d = np.arange(n + 1)
    k = binom.ppf(alpha / 2, d, 0.5).astype(int)
    for _ in range(3):  # ppf lands on or just above the critical count
        k = np.where((k >= 0) & (2 * binom.cdf(k, d, 0.5) >= alpha), k - 1, k)
    return k


def paired_power(n: int, p_a: float, p_b: float, alpha: float = ALPHA) -> float:
    """P(the exact paired test on n tasks rejects) when the two models' rates are p_a and p_b."""
    gain, loss = (1 - p_a) * p_b, p_a * (1 - p_b)
    moved = gain + loss
    if n <= 0 or moved <= 0:
        return 0.0
    d, k = np.arange(n + 1), _critical(n, alpha)
    share = gain / moved
    reject = np.where(k >= 0, binom.cdf(k, d, share) + binom.sf(d - k - 1, d, share), 0.0)
    return float((binom.pmf(d, n, moved) * reject).sum())


def smallest_detectable_difference(n: int, power: float = POWER, step: float = 0.01) -> float | None:
    """The smallest difference, centred on 0.5 (the widest case), the paired test finds with `power`."""
    for i in range(1, int(round(1 / step)) + 1):
        d = i * step
        if paired_power(n, 0.5 - d / 2, 0.5 + d / 2) >= power:
            return round(d, 4)
    return None


@lru_cache(maxsize=8)
def tasks_to_separate(p_a: float = 0.3, p_b: float = 0.6, power: float = POWER, limit: int = 2000) -> int | None:
    """The fewest tasks at which the paired test tells p_a from p_b with `power` (None beyond `limit`)."""
    for n in range(2, limit + 1):
        if paired_power(n, p_a, p_b) >= power:
            return n
    return None


def rerun_pass_probability(n: int, flip_rate: float, models: int = 1) -> float:
    """P(the rerun gate passes) for an identical-process rerun when the reference rate is the true one:
    d ~ Binomial(n, f) tasks flip, each up or down with probability 1/2 (rerun_gate's rule)."""
    from sweboard.rerun_gate import ALPHA as GATE_ALPHA, band

    level = 1 - GATE_ALPHA / max(1, models)
    width = band(n, flip_rate, level)
    total = 0.0
    for d in range(n + 1):
        if d and binom.sf(d - 1, n, flip_rate) <= 1 - level:
            continue  # significantly more flips than the rate: FAIL
        ups = np.arange(d + 1)
        inside = np.abs(2 * ups - d) <= width
        total += binom.pmf(d, n, flip_rate) * float(binom.pmf(ups, d, 0.5)[inside].sum())
    return total


def lines(n: int, models: int = 1, flip_rate: float = 0.1) -> list[str]:
    """The plan's power lines for a slice of n tasks."""
    from sweboard.rerun_gate import band

    smallest = smallest_detectable_difference(n)
    need = tasks_to_separate()
    width = band(n, flip_rate, 1 - 0.05 / max(1, models))
    return [
        f"power on {n} tasks (exact paired test, outcomes independent given the rates): " + (
            f"the smallest pass@1 difference between two models found with 80% power is {smallest:.2f} (around 0.5)"
            if smallest else "no pass@1 difference between two models, however large, is found with 80% power"),
        f"to tell 0.3 from 0.6 with 80% power the paired test needs {need} tasks"
        f" ({'this slice has enough' if need and n >= need else f'this slice has {n}'})",
        f"rerun gate on {n} tasks at a {flip_rate:.0%} flip rate: each model's identical rerun passes with probability "
        f"{rerun_pass_probability(n, flip_rate, models):.2f}; a net change beyond +/-{width} tasks fails "
        "(its reference needs --all-attempts with K >= 2)",
    ]
