"""The board's 95 % intervals: one method, fixed by the slice's design, never chosen by the data.

Why this method. The unit of a SWE-bench slice is the task: attempts of one task share its
difficulty, and tasks of one repo share the repo's. A rate is the mean of per-task values in
[0, 1] (0/1 for a single attempt, c/n for all-attempts pass@1). The interval is the exact
Clopper-Pearson interval computed on an *effective* sample (Korn & Graubard, 1998): the n tasks
count as n / deff independent ones, where deff = 1 + (m - 1) * ICC is the design effect of the
slice's repo clusters (m = the size-weighted mean repo size, sum of m_r^2 / n) at an assumed
intra-repo correlation ICC = 0.35, fixed in advance (conservative: see `ICC`). Both the repo sizes and the ICC come from the
design, so every row of a slice gets the same method and the interval is monotone in successes;
a fractional total is allowed (beta quantiles take real arguments); 0 < x < n never gives a
zero width. Per-task values bounded in [0, 1] spread no more than 0/1 outcomes of the same mean,
so treating their sum like a binomial count is conservative. The coverage this gives on the
project's slice shapes is simulated in `sweboard.coverage` (docs/metrics.md has the table).

A paired difference (B minus A, task by task) is judged on its own design: pairing already
removes what the two sides share (the task's and the repo's difficulty), so no design effect.
With G the gains and L the losses summed over the n tasks (each task's positive or negative
part; 0/1 for single attempts), the interval is Tango's score interval for paired proportions
(Tango 1998; Fagerland, Lydersen & Laake 2013 recommend it): it holds its 95 % level without the
excess of a Bonferroni split (an identical 19-task rerun bounds the change to +/-0.168; the split
it replaces gave +/-0.243). Whether it excludes 0 is decided by the exact McNemar test before any
rounding, so the interval and `paired_p` never disagree. Simulated coverage on the project's shapes:
`sweboard.coverage` (docs/metrics.md has the table).
"""

from __future__ import annotations

from collections import Counter

LEVEL = 0.95
# Assumed intra-repo correlation of outcomes: a design constant, not estimated from the data (a
# handful of repos cannot estimate it). 0.35, not a typical 0.2: nobody has measured it for SWE-bench,
# and 0.35 is the smallest value that keeps coverage >= 0.93 for a true ICC up to 0.5 at every shape
# and metric of `sweboard.coverage` (worst 0.942; at 0.2 the worst was 0.904). It costs ~10 % width.
ICC = 0.35


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


def these_tasks_interval(resolved: int, attempts: int, level: float = LEVEL) -> tuple[float, float]:
    """95 % interval for pass@1 *on these tasks*: the tasks fixed, the only randomness the agent's
    (what a rerun would change). With every attempt run (K >= 2 on each task), the resolved count is
    a sum of independent attempts with each task's own rate: a Poisson-binomial count, which spreads
    no more than a binomial of the same mean (Hoeffding 1956), so the exact Clopper-Pearson interval
    on the attempts covers at least at its level. With K = 1 it is not given: one attempt a task
    cannot show how much its outcome varies, and the board says so."""
    if attempts <= 0:
        return 0.0, 1.0
    low, high = exact_bounds(resolved, float(attempts), level)
    return float(low), float(high)


def score_bounds(gains, losses, n, squares=None, level: float = LEVEL):
    """Tango's (1998) score interval for the paired difference (gains - losses) / n, bisected on
    numpy arrays (the coverage simulation asks for thousands at once). With fractional per-task
    values (all-attempts pass@1) the counts are scaled by r = sum(d^2) / sum(|d|) (1 for 0/1 tasks):
    a task that moved by 1/3 carries the variance of a third of a flipped task, not of a whole one."""
    import numpy as np
    from scipy.stats import norm

    gains, losses = np.asarray(gains, dtype=float), np.asarray(losses, dtype=float)
    moved = gains + losses
    squares = moved if squares is None else np.asarray(squares, dtype=float)
    r = np.where(moved > 0, squares / np.maximum(moved, 1e-12), 1.0)
    g, lo_, m = gains / r, losses / r, n / r
    z = norm.ppf(1 - (1 - level) / 2)
    est = (gains - losses) / n
    low = [np.full_like(est, -1.0), est.copy()]  # the bound lies between: T(low[0]) > z >= T(low[1])
    high = [est.copy(), np.full_like(est, 1.0)]
    for _ in range(50):  # the score statistic falls as the hypothesised difference rises
        mid = (low[0] + low[1]) / 2
        above = _score(g, lo_, m, mid) > z
        low = [np.where(above, mid, low[0]), np.where(above, low[1], mid)]
        mid = (high[0] + high[1]) / 2
        below = _score(g, lo_, m, mid) < -z
        high = [np.where(below, high[0], mid), np.where(below, mid, high[1])]
    return low[0], high[1]


def _score(gains, losses, n, d0):
    """Tango's statistic at a hypothesised difference d0, with the losses' share at its restricted MLE."""
    import numpy as np

    a, b, c = 2 * n, -gains - losses + (2 * n - gains + losses) * d0, -losses * d0 * (1 - d0)
    p_loss = np.clip((np.sqrt(np.maximum(b * b - 4 * a * c, 0.0)) - b) / (2 * a), 0.0, 1.0)
    var = n * (2 * p_loss + d0 * (1 - d0))
    return (gains - losses - n * d0) / np.sqrt(np.maximum(var, 1e-300))


def difference_bounds(gains, losses, n, squares=None):
    """Bounds of the paired difference from the summed gains, losses (and squared changes) on n tasks.

    Whether the interval excludes 0 is decided first, by the exact paired test (`exact_paired_p`):
    where the score interval alone would exclude 0 but the exact test is not significant, its near
    bound moves to 0 (never the other way: a significant exact test always has a score interval
    excluding 0). Then the bounds are rounded outwards to 4 digits, except that an excluded 0 stays
    excluded (a positive lower bound under 1e-4 prints as 0.0001)."""
    import numpy as np

    low, high = score_bounds(gains, losses, n, squares)
    significant = exact_paired_p(gains, losses) < 0.05
    low = np.where(~significant & (low > 0), 0.0, low)
    high = np.where(~significant & (high < 0), 0.0, high)
    low, high = np.floor(low * 1e4) / 1e4, np.ceil(high * 1e4) / 1e4
    low = np.where(significant & (low <= 0) & (high > 0), 1e-4, low)
    high = np.where(significant & (high >= 0) & (low < 0), -1e-4, high)
    return low, high


def difference_interval(diffs: list[float]) -> tuple[float, float]:
    """95 % interval for the mean of paired per-task differences in [-1, 1] (B minus A)."""
    if not diffs:
        return -1.0, 1.0
    gains, losses = sum(d for d in diffs if d > 0), -sum(d for d in diffs if d < 0)
    low, high = difference_bounds(gains, losses, len(diffs), sum(d * d for d in diffs))
    return float(low), float(high)


def exact_paired_p(gains, losses):
    """Two-sided exact paired p-values (numbers or numpy arrays): the exact McNemar test on G gains and
    L losses (each task's positive or negative part), with beta tails so fractional counts
    (all-attempts pass@1) work the same way."""
    import numpy as np
    from scipy.stats import beta

    gains, losses = np.asarray(gains, dtype=float), np.asarray(losses, dtype=float)
    flips = gains + losses
    # P(X >= G) = I_{1/2}(G, D - G + 1) and P(X <= G) = 1 - I_{1/2}(G + 1, D - G) for X ~ Binomial(D, 1/2)
    with np.errstate(invalid="ignore", divide="ignore"):
        upper = np.where(gains <= 0, 1.0, beta.cdf(0.5, np.maximum(gains, 1e-12), flips - gains + 1))
        lower = np.where(losses <= 0, 1.0, beta.sf(0.5, gains + 1, np.maximum(flips - gains, 1e-12)))
    return np.where(flips <= 0, 1.0, np.minimum(1.0, 2 * np.minimum(upper, lower)))


def paired_p(gains: float, losses: float) -> float:
    """The exact paired p-value of one comparison; p < 0.05 exactly when `difference_interval` excludes 0."""
    return float(exact_paired_p(gains, losses))


def method(clusters: list[str]) -> str:
    """The `ci_method` cell: the method, the question it answers and the design effect it used (the
    same for every row of a slice). One repo: the estimand is that repo's own rate, said so."""
    repos = len(set(clusters))
    if repos < 2:
        return ("exact Clopper-Pearson on tasks; one repo: the estimand is that repo's own rate "
                "(not the model's on other repos)")
    return (f"exact Clopper-Pearson on tasks like these; repo design effect {design_effect(clusters):.2f} "
            f"({repos} repos, conservative ICC {ICC})")
