"""The board's 95 % intervals: one method, fixed by the slice's design, never chosen by the data.

Why this method. The unit of a SWE-bench slice is the task: attempts of one task share its
difficulty, and tasks of one repo share the repo's. A rate is the mean of per-task values in
[0, 1] (0/1 for a single attempt, c/n for all-attempts pass@1). The interval is the exact
Clopper-Pearson interval computed on an *effective* sample (Korn & Graubard, 1998): the n tasks
count as n / deff independent ones, where deff = 1 + (m - 1) * ICC is the design effect of the
slice's repo clusters (m = the size-weighted mean repo size, sum of m_r^2 / n) at an assumed
intra-repo correlation ICC = 0.2, fixed in advance. Both the repo sizes and the ICC come from the
design, so every row of a slice gets the same method and the interval is monotone in successes;
a fractional total is allowed (beta quantiles take real arguments); 0 < x < n never gives a
zero width. Per-task values bounded in [0, 1] spread no more than 0/1 outcomes of the same mean,
so treating their sum like a binomial count is conservative. The coverage this gives on the
project's slice shapes is simulated in `sweboard.coverage` (docs/metrics.md has the table).

A paired difference (B minus A, task by task) is judged on its own design: pairing already
removes what the two sides share (the task's and the repo's difficulty), so no design effect.
With G the gains and L the losses summed over the n tasks (each task's positive or negative
part; 0/1 for single attempts), the difference is q * (2 * pi - 1), q = the share of tasks that
differ and pi = the gains' share of them. pi gets the exact interval conditional on D = G + L
(the McNemar view: its 95 % interval excludes 1/2 exactly when the exact McNemar p < 0.05), q
its exact interval at 99 %; the difference's interval is the range of q * (2 * pi - 1) over both,
so it covers with probability at least 94 % by construction (simulated: `sweboard.coverage`),
and it excludes 0 exactly when the paired test (`paired_p`) is significant.
"""

from __future__ import annotations

from collections import Counter

LEVEL = 0.95
ICC = 0.2  # assumed intra-repo correlation of outcomes: a design constant, not estimated from the data


def design_effect(clusters: list[str], icc: float = ICC) -> float:
    """Kish's design effect for clusters of unequal size; 1 for one cluster (then the estimand is
    that repo's own rate and its tasks are the independent units)."""
    sizes = Counter(clusters).values()
    n = sum(sizes)
    if n == 0 or len(sizes) < 2:
        return 1.0
    mean_size = sum(s * s for s in sizes) / n
    return 1.0 + (mean_size - 1.0) * icc


def exact_bounds(total, n: float, level: float = LEVEL):
    """Clopper-Pearson bounds for (possibly fractional) success totals out of a (possibly fractional) n;
    `total` may be a number or a numpy array (the coverage simulation asks for thousands at once)."""
    import numpy as np
    from scipy.stats import beta

    alpha = 1.0 - level
    total = np.clip(np.asarray(total, dtype=float), 0.0, n)
    with np.errstate(invalid="ignore"):
        low = np.where(total <= 0, 0.0, beta.ppf(alpha / 2, np.maximum(total, 1e-12), n - total + 1))
        high = np.where(total >= n, 1.0, beta.ppf(1 - alpha / 2, total + 1, np.maximum(n - total, 1e-12)))
    return np.floor(low * 1e4) / 1e4, np.ceil(high * 1e4) / 1e4  # rounded outwards: never narrower


def rate_interval(values: list[float], clusters: list[str], level: float = LEVEL) -> tuple[float, float]:
    """95 % interval for the mean of per-task values in [0, 1] (tasks grouped by repo in `clusters`)."""
    n = len(values)
    if n == 0:
        return 0.0, 1.0
    if len(clusters) != n or any(not 0.0 <= v <= 1.0 for v in values):
        raise ValueError("rate_interval: one cluster per task and values within [0, 1] expected")
    n_eff = n / design_effect(clusters)
    low, high = exact_bounds(sum(values) / n * n_eff, n_eff, level)
    return float(low), float(high)


PI_LEVEL, Q_LEVEL = 0.95, 0.99


def difference_bounds(gains, losses, n: int):
    """Bounds of the paired difference from the summed gains and losses (numbers or numpy arrays) on n tasks."""
    import numpy as np

    gains, losses = np.asarray(gains, dtype=float), np.asarray(losses, dtype=float)
    flips = gains + losses
    q_low, q_high = exact_bounds(flips, float(n), Q_LEVEL)
    with np.errstate(invalid="ignore", divide="ignore"):
        pi_low, pi_high = exact_bounds(gains, np.maximum(flips, 1e-12), PI_LEVEL)
    pi_low, pi_high = np.where(flips > 0, pi_low, 0.0), np.where(flips > 0, pi_high, 1.0)
    low = np.where(pi_low >= 0.5, q_low, q_high) * (2 * pi_low - 1)
    high = np.where(pi_high >= 0.5, q_high, q_low) * (2 * pi_high - 1)
    return np.floor(low * 1e4) / 1e4, np.ceil(high * 1e4) / 1e4


def difference_interval(diffs: list[float]) -> tuple[float, float]:
    """95 % interval for the mean of paired per-task differences in [-1, 1] (B minus A)."""
    if not diffs:
        return -1.0, 1.0
    low, high = difference_bounds(sum(d for d in diffs if d > 0), -sum(d for d in diffs if d < 0), len(diffs))
    return float(low), float(high)


def paired_p(gains: float, losses: float) -> float:
    """Two-sided exact paired p-value: the exact McNemar test on G gains and L losses (each task's
    positive or negative part), with beta tails so fractional counts (all-attempts pass@1) work the
    same way. Consistent with `difference_interval`: p < 0.05 exactly when it excludes 0."""
    from scipy.stats import beta

    flips = gains + losses
    if flips <= 0:
        return 1.0
    # P(X >= G) = I_{1/2}(G, D - G + 1) and P(X <= G) = 1 - I_{1/2}(G + 1, D - G) for X ~ Binomial(D, 1/2)
    upper = 1.0 if gains <= 0 else float(beta.cdf(0.5, gains, flips - gains + 1))
    lower = 1.0 if losses <= 0 else float(beta.sf(0.5, gains + 1, flips - gains))
    return min(1.0, 2 * min(upper, lower))


def method(clusters: list[str]) -> str:
    """The `ci_method` cell: the method and the design effect it used (the same for every row of a slice)."""
    repos = len(set(clusters))
    return f"exact Clopper-Pearson on tasks; repo design effect {design_effect(clusters):.2f} ({repos} repos, ICC {ICC})"
