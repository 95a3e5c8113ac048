"""Paired tests and rank groups for comparing outcomes on the same tasks.

Why paired: two runs (or two models) grade the *same* tasks, so the evidence of a change is
in the tasks whose outcome flipped, not in two independent binomial rates. The exact
McNemar test asks whether b flips one way and c the other could come from a fair coin:
p = min(1, 2 * P(X <= min(b, c))) with X ~ Binomial(b + c, 1/2). Not significant is not
"the same": that needs an interval inside a margin (`compare.reproduction_gate`).
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
    """One paired comparison of per-task values (pass@1 contributions) on the tasks both sides graded.

    `diff` is mean(b - a) (B minus A), with its paired 95 % interval (`sweboard.intervals`);
    `p_value` is the exact McNemar test on the tasks' gains and losses (fractional counts with all
    attempts); it is below 0.05 exactly when the interval excludes 0."""

    n: int  # tasks compared
    only_a: list[str]  # tasks where A scored higher
    only_b: list[str]  # tasks where B scored higher
    both: int  # tasks where both scored the same, above 0
    diff: float
    ci_low: float
    ci_high: float
    p_value: float

    def statement(self) -> str:
        flips = f"{len(self.only_a)} tasks better in A, {len(self.only_b)} in B"
        return (f"pass@1 change {self.diff:+.3f} (95% interval {self.ci_low:+.3f} to {self.ci_high:+.3f}); "
                f"exact paired p = {self.p_value:.3g} ({flips})")


def paired(values_a: dict[str, float], values_b: dict[str, float]) -> PairedResult:
    """Compare B with A on the tasks both have (per-task pass@1 contributions in [0, 1])."""
    from sweboard.intervals import difference_interval, paired_p

    common = sorted(set(values_a) & set(values_b))
    diffs = [values_b[t] - values_a[t] for t in common]
    only_a = [t for t, d in zip(common, diffs) if d < 0]
    only_b = [t for t, d in zip(common, diffs) if d > 0]
    both = sum(1 for t, d in zip(common, diffs) if d == 0 and values_a[t] > 0)
    low, high = difference_interval(diffs)
    diff = round(sum(diffs) / len(diffs), 4) if diffs else 0.0
    gains, losses = sum(d for d in diffs if d > 0), -sum(d for d in diffs if d < 0)
    return PairedResult(len(common), only_a, only_b, both, diff, low, high, paired_p(gains, losses))


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


def min_detectable_flips(n: int, alpha: float = ALPHA) -> int | None:
    """Fewest tasks, all flipping one way between two models, that a paired test on n tasks detects."""
    need = min_flips_to_detect(alpha)
    return need if need <= n else None


def rank_groups(models: list[str], rates: dict[str, float], distinguishable: set[frozenset]) -> dict[str, int]:
    """Rank groups on one metric (the rate the pairs were tested on), by a rule that sees no names.

    Models are taken in order of rate, tied rates as one block (a tie is never distinguishable: its
    paired difference sums to 0). A block joins the current group unless one of its models is told
    apart (`distinguishable`) from one already in the group; then the block starts the next group.
    So two models in one group are never distinguishable; models in different groups need not be
    (the group boundary is drawn where some member is)."""
    blocks: dict[float, list[str]] = {}
    for m in models:
        blocks.setdefault(round(rates[m], 9), []).append(m)
    groups, rank, current = {}, 0, []
    for rate in sorted(blocks, reverse=True):
        block = blocks[rate]
        if not current or any(frozenset((x, y)) in distinguishable for x in block for y in current):
            rank += 1
            current = []
        current.extend(block)
        groups.update({m: rank for m in block})
    return groups
