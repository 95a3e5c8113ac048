"""Simulated coverage of the board's intervals on the project's own slice shapes.

Why: an interval is only as good as the share of repeated experiments it covers. This draws
slices the way the board meets them — tasks grouped in repos, a repo effect of a given
intra-repo correlation (ICC), tasks of very different difficulty, one or K attempts — computes
the board's interval (`sweboard.intervals`) on each, and counts how often it holds the true rate.
`tools/interval_coverage.py` prints the table; tests/test_statistics.py asserts it (its worst cell).

Generative model (all draws from one seeded generator, so a table is reproducible):
- repo r's rate p_r ~ Beta(mu * s, (1 - mu) * s) with s = (1 - ICC) / ICC (p_r = mu when ICC = 0),
  for true ICCs 0 to 0.5 (the board assumes 0.35: `intervals.ICC`; nobody has measured it);
- K = 1: each task is one Bernoulli(p_r) attempt;
- K = 3 all attempts: task t's rate p_t ~ Beta(p_r * c, (1 - p_r) * c) with c = 0.2, U-shaped as
  real tasks are (most are always or never solved), and its three attempts are Bernoulli(p_t);
  pass@1 is mean(c / 3), pass@3 the share of tasks with c > 0.
- paired (B minus A): both models share the task's p_t; B attempts at p_t + delta/2 and A at
  p_t - delta/2 (clipped to [0, 1]).
The true value is the mean over the generative model (a large seeded draw); for a one-repo
slice it is that repo's own rate (its estimand: the board says so in `ci_method`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sweboard.intervals import LEVEL, design_effect, difference_bounds, exact_bounds

# (tasks, repos): i0 (one repo), a repo's own breakdown row, i1, the offline slice, a three-repo slice, i3
SHAPES = ((3, 1), (4, 1), (8, 4), (10, 5), (12, 3), (19, 6))
ICCS = (0.0, 0.2, 0.35, 0.5)
DIFF_ICCS = (0.0, 0.2)  # pairing removes the repo effect: the paired cells need no ICC sweep
RATES = (0.05, 0.15, 0.3, 0.5, 0.7, 0.85, 0.95)
DELTAS = (0.0, 0.2, 0.4)
REPLICATES = 2000
SEED = 20261130
TASK_SPREAD = 0.2  # Beta concentration of task rates around their repo's rate under K = 3 (U-shaped)


@dataclass(frozen=True)
class Cell:
    metric: str  # "pass@1 K=1", "pass@1 K=3 all", "pass@K K=3 all", "diff pass@1 K=1", "diff pass@1 K=3 all"
    tasks: int
    repos: int
    icc: float
    rate: float  # mu (for a difference: the shared base rate)
    delta: float  # the difference's size (0 for a rate)
    coverage: float
    min_width: float
    mean_width: float = 0.0


def repo_sizes(tasks: int, repos: int) -> list[int]:
    return [tasks // repos + (1 if r < tasks % repos else 0) for r in range(repos)]


def _repo_rates(rng, mu: float, icc: float, shape: tuple[int, int]):
    import numpy as np

    if icc == 0:
        return np.full(shape, mu)
    s = (1 - icc) / icc
    return rng.beta(mu * s, (1 - mu) * s, size=shape)


def _spread(rng, p):
    import numpy as np

    return rng.beta(np.clip(p * TASK_SPREAD, 1e-9, None), np.clip((1 - p) * TASK_SPREAD, 1e-9, None))


def _task_rates(rng, mu: float, icc: float, sizes: list[int], reps: int, spread: bool, repo_rates=None):
    """(reps, tasks) rates: the repo's rate, spread per task when `spread` (K = 3)."""
    import numpy as np

    per_repo = _repo_rates(rng, mu, icc, (reps, len(sizes))) if repo_rates is None else repo_rates
    p = np.repeat(per_repo, sizes, axis=1)
    return _spread(rng, p) if spread else p


def _values(rng, p, k: int, metric: str):
    c = rng.binomial(k, p)
    return c / k if metric == "pass@1" else (c > 0).astype(float)


def _metric_of_rate(p, k: int, metric: str):
    """The expected metric of a task drawn around repo rate p: pass@1 is p itself; pass@K is
    1 - E[(1 - p_t)^K] with p_t ~ Beta(p c, (1 - p) c) (a product of K ratios)."""
    import numpy as np

    if metric == "pass@1" or k == 1:
        return p
    a, b = np.clip(p * TASK_SPREAD, 1e-9, None), np.clip((1 - p) * TASK_SPREAD, 1e-9, None)
    miss = np.ones_like(np.asarray(p, dtype=float))
    for j in range(k):
        miss = miss * (b + j) / (a + b + j)
    return 1 - miss


def _truth(mu, icc, k, metric, delta=0.0, draws=400_000):
    import numpy as np

    rng = np.random.default_rng(SEED + 1)
    if delta:
        p = _task_rates(rng, mu, icc, [1], draws, spread=k > 1)[:, 0]
        a, b = np.clip(p - delta / 2, 0, 1), np.clip(p + delta / 2, 0, 1)
        return float((b - a).mean())
    return float(_metric_of_rate(_repo_rates(rng, mu, icc, (draws,)), k, metric).mean())


def _interval(values, clusters, level):
    """The board's interval on each replicate's per-task values (rows of `values`)."""
    n = values.shape[1]
    n_eff = n / design_effect(clusters)
    return exact_bounds(values.mean(axis=1) * n_eff, n_eff, level)


def rate_cell(tasks, repos, icc, mu, k, metric, reps=REPLICATES) -> Cell:
    import numpy as np

    rng = np.random.default_rng(SEED)
    sizes = repo_sizes(tasks, repos)
    clusters = [f"r{r}" for r, s in enumerate(sizes) for _ in range(s)]
    per_repo = _repo_rates(rng, mu, icc, (reps, repos))
    values = _values(rng, _task_rates(rng, mu, icc, sizes, reps, k > 1, per_repo), k, metric)
    low, high = _interval(values, clusters, LEVEL)
    # one repo: the estimand is that repo's own rate (each replicate's); else the population's
    truth = _metric_of_rate(per_repo[:, 0], k, metric) if repos == 1 else _truth(mu, icc, k, metric)
    name = f"{metric} K={k}" + (" all" if k > 1 else "")
    inner = (values.mean(axis=1) > 0) & (values.mean(axis=1) < 1)
    width = float((high - low)[inner].min()) if inner.any() else float("nan")
    return Cell(name, tasks, repos, icc, mu, 0.0, float(((low <= truth) & (truth <= high)).mean()), width,
                float((high - low).mean()))


def diff_cell(tasks, repos, icc, mu, delta, k, reps=REPLICATES) -> Cell:
    import numpy as np

    rng = np.random.default_rng(SEED)
    sizes = repo_sizes(tasks, repos)
    p = _task_rates(rng, mu, icc, sizes, reps, spread=k > 1)
    a = rng.binomial(k, np.clip(p - delta / 2, 0, 1)) / k
    b = rng.binomial(k, np.clip(p + delta / 2, 0, 1)) / k
    d = b - a
    low, high = difference_bounds(np.maximum(d, 0).sum(axis=1), np.maximum(-d, 0).sum(axis=1), tasks,
                                  (d * d).sum(axis=1))
    truth = _truth(mu, icc, k, "pass@1", delta) if delta else 0.0
    name = f"diff pass@1 K={k}" + (" all" if k > 1 else "")
    return Cell(name, tasks, repos, icc, mu, delta, float(((low <= truth) & (truth <= high)).mean()),
                float((high - low).min()), float((high - low).mean()))


def table(reps: int = REPLICATES) -> list[Cell]:
    """Every cell the board's promise covers: rates (K = 1; K = 3 pass@1 and pass@3) and paired differences."""
    cells = []
    for tasks, repos in SHAPES:
        for icc in ICCS:
            for mu in RATES:
                cells.append(rate_cell(tasks, repos, icc, mu, 1, "pass@1", reps))
                cells.append(rate_cell(tasks, repos, icc, mu, 3, "pass@1", reps))
                cells.append(rate_cell(tasks, repos, icc, mu, 3, "pass@K", reps))
            if icc not in DIFF_ICCS:
                continue
            for mu in (0.3, 0.5):
                for delta in DELTAS:
                    cells.append(diff_cell(tasks, repos, icc, mu, delta, 1, reps))
                    cells.append(diff_cell(tasks, repos, icc, mu, delta, 3, reps))
    return cells
