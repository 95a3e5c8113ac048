"""Plan-only mode for the iteration drivers: what a batch would cost before anything is spent.

Bounds, not forecasts: every attempt may use its whole step limit, every call its whole
prompt bound and `max_tokens`. The bound is set against what the ledger says is left of
each provider's daily call quota and dollar cap.
"""

from __future__ import annotations

from dataclasses import dataclass

from sweboard.catalog import Catalog, ModelEntry
from sweboard.compare import DELTA
from sweboard.errors import SweboardError
from sweboard.intervals import difference_interval, rate_interval
from sweboard.leaderboard import repo_of
from sweboard.ledger import Ledger
from sweboard.runconfig import RunnerConfig
from sweboard.stats import min_detectable_flips

# Which catalog providers each iteration drives (the plan: i1 = Chutes, i2 = Chutes + OpenRouter).
ITERATION_PROVIDERS = {"i0": (), "i1": ("chutes",), "i2": ("chutes", "openrouter"), "i3": ("chutes", "openrouter"),
                       "i4": ("chutes", "openrouter")}
# Each iteration's slice file (i2 reuses i1's; i4 measures tokens, cost and latency on i3's).
DRIVER_ATTEMPTS = 2  # K the run_i*.sh drivers run unless told otherwise (--attempts)
ITERATION_ATTEMPTS = {"i0": 1}  # i0 is one attempt per task (the smoke test); the others DRIVER_ATTEMPTS
ITERATION_SETTINGS = {"i3": {"attempt_timeout_seconds": 90}, "i4": {"attempt_timeout_seconds": 90}}  # the plan: 90 s
ITERATION_SLICES = {"i0": "instances_i0.yaml", "i1": "instances_i1.yaml", "i2": "instances_i1.yaml", "i3": "instances_i3.yaml",
                    "i4": "instances_i3.yaml"}
# The offline stand-ins, one per failure mode the pipeline must survive (TEST EQUIPMENT).
OFFLINE_MODELS = ("scripted/solver", "scripted/empty", "scripted/wrong", "scripted/ratelimited",
                  "scripted/server-error", "scripted/retired-model")
I0_OFFLINE_MODELS = ("scripted/solver",)  # i0 offline: the solver and the baseline (the plan's step 7 proves the path)
BASELINE = "instant_empty_submit"


def models_for(catalog: Catalog, iteration: str, offline: bool, only: list[str] | None = None) -> list[ModelEntry]:
    if iteration not in ITERATION_PROVIDERS:
        raise SweboardError(f"--iteration: expected one of {sorted(ITERATION_PROVIDERS)}, got {iteration!r}")
    if only:
        chosen = [catalog.get(m) for m in only]
    elif offline:
        chosen = [catalog.get(m) for m in (I0_OFFLINE_MODELS if iteration == "i0" else OFFLINE_MODELS)]
    else:
        chosen = [m for m in catalog.models.values()
                  if m.enabled and m.provider.name in ITERATION_PROVIDERS[iteration]]
    if BASELINE not in [m.id for m in chosen]:
        chosen.append(catalog.get(BASELINE))
    return chosen


@dataclass(frozen=True)
class ModelPlan:
    model: ModelEntry
    tasks: int
    attempts_bound: int
    calls_bound: int
    cost_bound: float
    repos: tuple[str, ...] = ()  # each task's repo: the slice's design, which fixes its intervals


def plan(models: list[ModelEntry], instance_ids: list[str], config: RunnerConfig) -> list[ModelPlan]:
    out = []
    for m in models:
        attempts = sum((1 if m.is_baseline else config.attempts_for(m.id, iid)[0]) for iid in instance_ids)
        calls = 0 if m.is_baseline else attempts * config.step_limit * (1 + config.gateway_max_retries)
        per_call = (config.prompt_tokens_bound * m.price_per_1k_input + config.max_tokens * m.price_per_1k_output) / 1000
        out.append(ModelPlan(m, len(instance_ids), attempts, calls, round(calls * per_call, 4),
                             tuple(repo_of(iid) for iid in instance_ids)))
    return out


def render(plans: list[ModelPlan], config: RunnerConfig, ledger: Ledger | None = None) -> str:
    ledger = ledger or Ledger()
    lines = [f"{'model':44} {'provider':10} {'tasks':>5} {'attempts<=':>10} {'calls<=':>8} {'cost<= $':>10}"]
    for p in plans:  # test equipment (the scripted provider) costs nothing real: its prices only exercise the meter
        cost = f"{'free':>10}" if p.model.test_equipment else f"{p.cost_bound:>10.4f}"
        lines.append(f"{p.model.id:44} {p.model.provider.name:10} {p.tasks:>5} {p.attempts_bound:>10} "
                     f"{p.calls_bound:>8} {cost}")
    real = sum(p.cost_bound for p in plans if not p.model.test_equipment)
    lines.append(f"{'total':44} {'':10} {'':>5} {sum(p.attempts_bound for p in plans):>10} "
                 f"{sum(p.calls_bound for p in plans):>8} {real:>10.4f}")
    lines.append(f"bounds: K={config.attempts} ({'stop at first resolved' if config.stop_after_resolved else 'all K'}), "
                 f"step_limit={config.step_limit} calls/attempt, up to {config.gateway_max_retries} retries/call, "
                 f"{config.prompt_tokens_bound} prompt + {config.max_tokens} completion tokens/call, "
                 f"{config.attempt_timeout_seconds:g}s/attempt, {config.model_budget_seconds:g}s/model")
    providers = {p.model.provider.name: p.model.provider for p in plans}
    for name, prov in sorted(providers.items()):
        used = ledger.usage(prov)
        calls = sum(p.calls_bound for p in plans if p.model.provider.name == name)
        cost = sum(p.cost_bound for p in plans if p.model.provider.name == name)
        if prov.daily_call_quota is not None and prov.quota_scope == "model":
            worst = max(p.calls_bound for p in plans if p.model.provider.name == name)
            lines.append(f"{name}: quota {prov.daily_call_quota} calls a day per model; largest per-model bound {worst} "
                         f"{'fits' if worst <= prov.daily_call_quota else 'EXCEEDS it: that model stops at the quota (or the provider answers 402) and resumes later'}")
        elif prov.daily_call_quota is not None:
            left = prov.daily_call_quota - used["calls_today"]
            lines.append(f"{name}: {used['calls_today']} calls used today of {prov.daily_call_quota}; bound {calls} "
                         f"{'fits' if calls <= left else 'EXCEEDS what is left: the run stops at the quota and resumes later'}")
        if prov.dollar_cap is not None:
            left = prov.dollar_cap - used["dollars"]
            lines.append(f"{name}: ${used['dollars']:.4f} spent of ${prov.dollar_cap:.2f}; bound ${cost:.4f} "
                         f"{'fits' if cost <= left else 'EXCEEDS what is left: the run stops at the cap and resumes later'}")
    lines += missing_keys([p.model for p in plans])
    if plans and plans[0].tasks:
        lines.append(resolution(plans[0].tasks, list(plans[0].repos)))
        from sweboard import power

        lines += power.lines(plans[0].tasks, models=max(1, sum(not p.model.is_baseline for p in plans)))
    return "\n".join(lines)


def missing_keys(models: list[ModelEntry]) -> list[str]:
    """A line per provider whose key is not set: the plan says so before anything runs (the preflight stops on it)."""
    from sweboard import credentials

    needed: dict[str, list[str]] = {}
    for m in models:
        env = m.provider.api_key_env
        if m.calls_a_model and env and not credentials.get_key(env):
            needed.setdefault(env, []).append(m.id)
    return [f"MISSING KEY: {env} is not set (secrets/credentials.txt or the environment); needed by {', '.join(ids)}"
            for env, ids in sorted(needed.items())]


def resolution(n: int, repos: list[str]) -> str:
    """What a slice of n tasks (in these repos) can resolve, by the board's own methods."""
    low, high = rate_interval([1.0] * (n // 2) + [0.0] * (n - n // 2), repos or [f"t{i}" for i in range(n)])
    from sweboard.rerun_gate import band

    same_low, same_high = difference_interval([0.0] * n)
    detect = min_detectable_flips(n)
    return (f"what {n} tasks can resolve: a rate near 0.5 has a 95% interval of +/-{(high - low) / 2:.2f}; a paired "
            f"test between two models needs {detect if detect else 'more tasks than the slice has'}"
            f"{' tasks flipping one way' if detect else ''} to tell them apart; a rerun with identical outcomes "
            f"bounds the change to +/-{same_high:.2f} (an equivalence within +/-{DELTA:g}: not a gate); the rerun gate "
            f"(within normal variance) allows +/-{band(n, 0.1, 0.95)} tasks of net change at a 10% flip rate and needs "
            f"--all-attempts with K >= 2 for its reference")
