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
