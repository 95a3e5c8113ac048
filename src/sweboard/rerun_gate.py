"""The plan's rerun gate: does a rerun reproduce the outcomes *within normal variance*?

Why not an equivalence claim: "the change lies within +/-0.10" needs ~51 tasks before identical
reruns can pass it at all, and ~300 at a 10 % flip rate; on the plan's slices (8-19 tasks) it is
N/A or FAIL for every pair of runs. The plan asks a consistency question: is the rerun as close to
the first run as the agent's own randomness allows? That is answered on *these tasks* (the tasks
fixed; the only randomness the agent's), from the per-task **flip rate**.

- The reference rate `f`: the chance that two independent attempts at the same task disagree,
  estimated from each run's own attempts (all-attempts runs with K >= 2: per task, the share of
  its attempt pairs that disagree, `c (n - c) / C(n, 2)`, averaged over tasks and the two runs).
  A run that stops at the first resolved has no unbiased within-task pairs: N/A, saying how to
  get a reference (`--all-attempts`, K >= 2).
- The rerun, on the first attempt of each task in each run: `d` tasks flipped, net change
  `s = gained - lost`.
- PASS when both hold, for every model (Bonferroni over the m models: level 1 - 0.05/m each):
  `|s|` lies inside the band the rate implies (each task moves +1 or -1 with probability f/2
  each: the smallest symmetric band holding >= 1 - 0.05/m of the exact sum's distribution), and
  the flip count is not significantly above the rate (exact one-sided binomial, P(X >= d) above
  0.05/m). FAIL otherwise, naming which.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb

import numpy as np
from scipy.stats import binom

from sweboard.outcomes import RESOLVED, task_outcomes

ALPHA = 0.05


@dataclass
class RerunCheck:
    """One model's rerun against the variance its own attempts show."""

    model: str
    tasks: int  # tasks with a first attempt in both runs
    flips: int  # of those, tasks whose first attempt's outcome differs
    net: int  # gained - lost (B minus A), in tasks
    rate: float | None  # reference flip rate (None: no within-task pairs)
    band: int = 0  # |net| allowed at the level
    p_flips: float = 1.0  # P(X >= flips | tasks, rate)
    level: float = 1 - ALPHA

    @property
    def ok(self) -> bool:
        return self.rate is not None and abs(self.net) <= self.band and self.p_flips > 1 - self.level

    def line(self) -> str:
        if self.rate is None:
            return f"{self.model}: no reference flip rate"
        return (f"{self.model}: {self.flips}/{self.tasks} tasks flipped (net {self.net:+d}, band +/-{self.band}) "
                f"at reference flip rate {self.rate:.3f} (P(>= {self.flips} flips) {self.p_flips:.3g})")


def pair_disagreement(outcomes: list[bool]) -> float | None:
    """The share of a task's attempt pairs that disagree; None with fewer than two attempts."""
    n, c = len(outcomes), sum(outcomes)
    return c * (n - c) / comb(n, 2) if n >= 2 else None


def reference_rate(manifest: dict, model_id: str) -> float | None:
    """Mean within-task disagreement of one run's attempts; None unless it ran every attempt (K >= 2)."""
    if manifest["batches"][model_id].get("stop_after_resolved", True):
        return None
    rates = [pair_disagreement([a["outcome"] == RESOLVED for a in per])
             for per in task_outcomes(manifest, model_id).values()]
    rates = [r for r in rates if r is not None]
    return sum(rates) / len(rates) if rates else None


def sum_distribution(n: int, rate: float) -> np.ndarray:
    """P(S = s) for s = -n..n, S the sum of n tasks each +1 or -1 with probability rate/2, else 0."""
    step = np.array([rate / 2, 1 - rate, rate / 2])
    dist = np.array([1.0])
    for _ in range(n):
        dist = np.convolve(dist, step)
    return dist


def band(n: int, rate: float, level: float) -> int:
    """The smallest k with P(|S| <= k) >= level."""
    dist = sum_distribution(n, rate)
    for k in range(n + 1):
        if dist[n - k:n + k + 1].sum() >= level - 1e-12:
            return k
    return n


def first_attempts(manifest: dict, model_id: str) -> dict[str, bool]:
    return {iid: per[0]["outcome"] == RESOLVED for iid, per in task_outcomes(manifest, model_id).items() if per}


def judge(model_id: str, fa: dict[str, bool], fb: dict[str, bool], rate: float | None, models: int = 1) -> RerunCheck:
    """The check on first attempts (task -> resolved) of runs A and B at a reference flip rate."""
    common = sorted(set(fa) & set(fb))
    net = sum(int(fb[t]) - int(fa[t]) for t in common)
    flips = sum(fa[t] != fb[t] for t in common)
    level = 1 - ALPHA / max(1, models)
    out = RerunCheck(model_id, len(common), flips, net, rate, level=level)
    if rate is not None and common:
        out.band = band(len(common), rate, level)
        out.p_flips = float(binom.sf(flips - 1, len(common), rate)) if flips else 1.0
    return out


def check(model_id: str, a: dict, b: dict, models: int = 1) -> RerunCheck:
    """One model's rerun check (run B against run A); `models` sets the Bonferroni level."""
    refs = [r for r in (reference_rate(a, model_id), reference_rate(b, model_id)) if r is not None]
    return judge(model_id, first_attempts(a, model_id), first_attempts(b, model_id),
                 sum(refs) / len(refs) if refs else None, models)
