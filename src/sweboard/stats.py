"""Paired tests for comparing outcomes on the same tasks.

Why paired: two runs (or two models) grade the *same* tasks, so the evidence of a change is
in the tasks whose outcome flipped, not in two independent binomial rates. The exact
McNemar test asks whether b flips one way and c the other could come from a fair coin:
p = min(1, 2 * P(X <= min(b, c))) with X ~ Binomial(b + c, 1/2). With few flips no result
can reach significance; `mcnemar` says so rather than calling that "no change".
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb

ALPHA = 0.05


def binom_cdf_half(x: int, n: int) -> float:
    return sum(comb(n, i) for i in range(x + 1)) / 2 ** n


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for b and c discordant pairs."""
    if b < 0 or c < 0:
        raise ValueError("mcnemar_exact: counts must be >= 0")
    n = b + c
    if n == 0:
        return 1.0
    return min(1.0, 2 * binom_cdf_half(min(b, c), n))


def min_flips_to_detect(alpha: float = ALPHA) -> int:
    """Fewest discordant pairs, all one way, that reach p < alpha (6 for alpha = 0.05)."""
    n = 1
    while mcnemar_exact(n, 0) >= alpha:
        n += 1
    return n


@dataclass(frozen=True)
class PairedResult:
    n: int  # tasks compared
    only_a: list[str]  # resolved in A only
    only_b: list[str]  # resolved in B only
    both: int
    p_value: float
    detectable: bool  # could any split of this many flips (or of n tasks) reach significance?

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA

    def statement(self) -> str:
        flips = len(self.only_a) + len(self.only_b)
        need = min_flips_to_detect()
        if self.n < need:
            return (f"only {self.n} tasks: no difference can reach p < {ALPHA} with fewer than {need} tasks; "
                    "this comparison cannot detect a change")
        if not self.significant and flips and flips < need:
            return (f"{flips} flips ({len(self.only_a)} vs {len(self.only_b)}): too few to detect a change of this "
                    f"size (at least {need} flips, all one way, are needed for p < {ALPHA})")
        return f"exact McNemar p = {self.p_value:.3g} on {flips} flips ({len(self.only_a)} vs {len(self.only_b)})"


def paired(resolved_a: dict[str, bool], resolved_b: dict[str, bool]) -> PairedResult:
    common = sorted(set(resolved_a) & set(resolved_b))
    only_a = [t for t in common if resolved_a[t] and not resolved_b[t]]
    only_b = [t for t in common if resolved_b[t] and not resolved_a[t]]
    both = sum(1 for t in common if resolved_a[t] and resolved_b[t])
    return PairedResult(len(common), only_a, only_b, both, mcnemar_exact(len(only_a), len(only_b)),
                        len(common) >= min_flips_to_detect())


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    m = len(p_values)
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


# --- confidence intervals -------------------------------------------------------------------

RESAMPLES = 10_000
SEED = 20261126
LEVEL = 0.95


def _binom_cdf(k: int, n: int, p: float) -> float:
    if p <= 0:
        return 1.0
    if p >= 1:
        return 0.0 if k < n else 1.0
    return sum(comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k + 1))


def clopper_pearson(successes: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Exact binomial interval (by bisection on the binomial CDF; no SciPy needed)."""
    if n == 0:
        return 0.0, 1.0
    alpha = 1 - level

    def solve(target, k, increasing):
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = (lo + hi) / 2
            value = _binom_cdf(k, n, mid)
            if (value > target) == increasing:
                hi = mid
            else:
                lo = mid
        return (lo + hi) / 2

    low = 0.0 if successes == 0 else solve(1 - alpha / 2, successes - 1, False)
    high = 1.0 if successes == n else solve(alpha / 2, successes, False)
    return low, high


def interval(per_task: list[float], clusters: list[str], level: float = LEVEL) -> tuple[float, float, str]:
    """A 95 % interval for the mean of per-task values, and how it was made.

    - every task 0, or every task 1: the exact Clopper-Pearson interval (a bootstrap would collapse
      to a point and claim certainty);
    - 3 or more clusters (repos): percentile bootstrap resampling whole repos (tasks of one repo
      are not independent), RESAMPLES draws, fixed SEED;
    - otherwise, per-task values all 0 or 1: the exact Clopper-Pearson interval;
    - otherwise: percentile bootstrap over tasks.
    """
    import numpy as np

    values = np.asarray(per_task, dtype=float)
    n = len(values)
    if n == 0:
        return 0.0, 1.0, "none"
    groups = sorted(set(clusters))
    rng = np.random.default_rng(SEED)
    binary = set(np.unique(values)) <= {0.0, 1.0}
    if binary and len(np.unique(values)) == 1:
        # all tasks alike (0/n or n/n): any bootstrap collapses to a point; the exact interval does not
        low, high = clopper_pearson(int(values.sum()), n, level)
        return round(low, 4), round(high, 4), "exact Clopper-Pearson"
    if len(groups) >= 3:
        index = {g: np.flatnonzero(np.asarray(clusters) == g) for g in groups}
        sums = np.array([values[index[g]].sum() for g in groups])
        sizes = np.array([len(index[g]) for g in groups])
        draws = rng.integers(0, len(groups), size=(RESAMPLES, len(groups)))
        means = sums[draws].sum(axis=1) / sizes[draws].sum(axis=1)
        method = f"bootstrap clustered by repo ({len(groups)} repos, {RESAMPLES} resamples, seed {SEED})"
    elif binary:
        low, high = clopper_pearson(int(values.sum()), n, level)
        return round(low, 4), round(high, 4), "exact Clopper-Pearson"
    else:
        draws = rng.integers(0, n, size=(RESAMPLES, n))
        means = values[draws].mean(axis=1)
        method = f"bootstrap over tasks ({RESAMPLES} resamples, seed {SEED})"
    alpha = (1 - level) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    point = float(values.mean())  # a percentile interval can miss a skewed estimate: widen to hold it
    return round(min(float(low), point), 4), round(max(float(high), point), 4), method


def half_width(n: int, p: float = 0.5, level: float = LEVEL) -> float:
    """Half the width of the exact interval at rate p on n tasks: what a slice of n can resolve."""
    low, high = clopper_pearson(round(p * n), n, level)
    return round((high - low) / 2, 3)


def min_detectable_flips(n: int, alpha: float = ALPHA) -> int | None:
    """Fewest tasks, all flipping one way between two models, that a paired test on n tasks detects."""
    need = min_flips_to_detect(alpha)
    return need if need <= n else None


def rank_groups(models: list[str], rates: dict[str, float], adjusted_p: dict[frozenset, float]) -> dict[str, int]:
    """Rank groups: models sorted by rate; a model joins the current group unless the paired test
    (Holm-adjusted) tells it apart from the group's leader, which then starts the next group."""
    order = sorted(models, key=lambda m: (-rates[m], m))
    groups, rank, leader = {}, 0, None
    for m in order:
        if leader is None or adjusted_p.get(frozenset((leader, m)), 1.0) < ALPHA:
            rank += 1
            leader = m
        groups[m] = rank
    return groups
