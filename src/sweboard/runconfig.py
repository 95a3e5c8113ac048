"""Runner settings (`config/sweagent.yaml`): which agent, its limits, budgets and concurrency.

Per-model or per-task exceptions (K=3 attempts, a longer timeout) go in `overrides`, each
with a `reason`: the plan allows raising budgets only with recorded evidence.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sweboard.errors import SweboardError
from sweboard.paths import config_dir
from sweboard.yamlio import load_yaml

RUNNERS = ("mini", "sweagent")
OVERRIDABLE = ("attempts", "attempt_timeout_seconds")


@dataclass(frozen=True)
class Override:
    model: str | None
    instance: str | None
    attempts: int | None
    attempt_timeout_seconds: float | None
    reason: str

    def applies(self, model_id: str, instance_id: str) -> bool:
        return (self.model in (None, model_id)) and (self.instance in (None, instance_id))


@dataclass(frozen=True)
class RunnerConfig:
    runner: str = "mini"
    attempt_timeout_seconds: float = 45.0
    step_limit: int = 30
    cost_limit: float = 0.0  # dollars per attempt inside the agent; 0 leaves budgets to sweboard
    temperature: float = 0.0
    seed: int = 42
    max_tokens: int = 4096
    jobs: int = 8  # agent attempts at once across the iteration's models (the plan: up to 8; slots.py)
    evaluator_workers: int = 4  # official-evaluator invocations at once (the plan starts at 4)
    cpu_ceiling_percent: float = 80.0  # no new attempt or evaluation starts while the machine's CPU is above this
    evaluator_timeout_seconds: int = 300
    command_timeout_seconds: int = 30
    attempts: int = 1  # K; drivers for i1/i2 pass 2
    stop_after_resolved: bool = True  # evaluate each attempt before launching the next; stop at the first resolved
    model_budget_seconds: float = 3600.0  # per model: stop launching new attempts after this much wall time
    prompt_tokens_bound: int = 32000  # per call, for the plan's cost bound (not enforced on the agent)
    gateway_max_retries: int = 4  # per call, on 429 and 5xx
    gateway_backoff_seconds: float = 1.0  # first retry delay; doubles; Retry-After wins when given
    gateway_max_backoff_seconds: float = 30.0
    provider_failure_streak: int = 2  # stop launching after this many attempts in a row got no answer from the provider
    gateway_upstream_timeout_seconds: float = 300.0  # per upstream call; never beyond the attempt's remaining time
    gateway_max_reply_bytes: int = 8_388_608  # a larger provider reply is refused (502), never handed to the agent
    history: str = "strict"  # a task image whose /testbed reaches beyond its base: strict (refused) | sanitize
    evaluation_regrade: str = "auto"  # graded a second time: auto (resolved, for real models) | resolved | all | none
    evaluation_regrade_sample: float = 0.1  # and this share of the other graded attempts (auto and resolved)
    overrides: tuple[Override, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return asdict(self)

    def attempts_for(self, model_id: str, instance_id: str, default: int | None = None) -> tuple[int, str]:
        k, reason = default or self.attempts, ""
        for o in self.overrides:
            if o.attempts is not None and o.applies(model_id, instance_id):
                k, reason = o.attempts, o.reason
        return k, reason

    def timeout_for(self, model_id: str, instance_id: str) -> tuple[float, str]:
        t, reason = self.attempt_timeout_seconds, ""
        for o in self.overrides:
            if o.attempt_timeout_seconds is not None and o.applies(model_id, instance_id):
                t, reason = o.attempt_timeout_seconds, o.reason
        return t, reason


# How much runs at once is not part of the experiment: a resume may change it.
CAPACITY_SETTINGS = ("jobs", "workers", "evaluator_workers", "cpu_ceiling_percent")


def max_workers() -> int:
    """CPU-bound work in one process (image builds, the gold canary): 80% of the cores, at least 1.
    Agent attempts and evaluations are capped by `jobs`/`evaluator_workers` and the CPU guardrail
    instead (`slots.py`): they mostly wait on the model or on Docker."""
    return max(1, int((os.cpu_count() or 1) * 0.8))


def _convert(kind: type, value, where: str):
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "yes", "1", "false", "no", "0"):
            return str(value).lower() in ("true", "yes", "1")
        raise SweboardError(f"{where}: expected true or false, got {value!r}")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise SweboardError(f"{where}: expected {kind.__name__}, got {value!r}") from None


def _overrides(items, path: Path) -> tuple[Override, ...]:
    if not isinstance(items, list):
        raise SweboardError(f"{path}.overrides: expected a list of {{model|instance, attempts|attempt_timeout_seconds, reason}}")
    out = []
    for i, item in enumerate(items):
        where = f"{path}.overrides[{i}]"
        if not isinstance(item, dict):
            raise SweboardError(f"{where}: expected a mapping")
        unknown = sorted(set(item) - {"model", "instance", "reason", *OVERRIDABLE})
        if unknown:
            raise SweboardError(f"{where}: unknown keys {unknown}")
        if not str(item.get("reason", "")).strip():
            raise SweboardError(f"{where}.reason: required (why this model or task needs a larger budget)")
        if not (item.get("model") or item.get("instance")):
            raise SweboardError(f"{where}: name a model or an instance")
        if not any(k in item for k in OVERRIDABLE):
            raise SweboardError(f"{where}: set attempts or attempt_timeout_seconds")
        attempts = _convert(int, item["attempts"], f"{where}.attempts") if "attempts" in item else None
        if attempts is not None and not 1 <= attempts <= 3:
            raise SweboardError(f"{where}.attempts: expected 1, 2 or 3 (the plan allows K=3 at most), got {attempts}")
        timeout = (_convert(float, item["attempt_timeout_seconds"], f"{where}.attempt_timeout_seconds")
                   if "attempt_timeout_seconds" in item else None)
        if timeout is not None:
            _check_bounds("attempt_timeout_seconds", timeout, f"{where}.attempt_timeout_seconds")
        out.append(Override(item.get("model"), item.get("instance"), attempts, timeout, str(item["reason"])))
    return tuple(out)


# bounds every numeric setting must respect (NaN and infinity never pass)
POSITIVE = ("attempt_timeout_seconds", "step_limit", "max_tokens", "evaluator_timeout_seconds", "command_timeout_seconds",
            "model_budget_seconds", "prompt_tokens_bound", "gateway_upstream_timeout_seconds", "gateway_max_reply_bytes")
AT_LEAST_ONE = ("jobs", "evaluator_workers", "provider_failure_streak", "attempts")
NON_NEGATIVE = ("cost_limit", "temperature", "seed", "gateway_max_retries", "gateway_backoff_seconds",
                "gateway_max_backoff_seconds")


def _check_bounds(name: str, value, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if not math.isfinite(value):
        raise SweboardError(f"{where}: expected a finite number, got {value!r}")
    if name in POSITIVE and value <= 0:
        raise SweboardError(f"{where}: expected a number > 0, got {value!r}")
    if name in AT_LEAST_ONE and value < 1:
        raise SweboardError(f"{where}: expected a whole number >= 1, got {value!r}")
    if name in NON_NEGATIVE and value < 0:
        raise SweboardError(f"{where}: expected a number >= 0, got {value!r}")


def load_runner_config(path: Path | None = None, overrides: dict | None = None) -> RunnerConfig:
    path = path or config_dir() / "sweagent.yaml"
    data = load_yaml(path) or {}
    if not isinstance(data, dict):
        raise SweboardError(f"{path}: expected a mapping of settings")
    fields = RunnerConfig.__dataclass_fields__
    typos = sorted(set(overrides or {}) - set(fields))
    if typos:  # the command line's mistake, not the file's
        import difflib

        near = {t: difflib.get_close_matches(t, list(fields), n=1) for t in typos}
        hints = "; ".join(f"--set {t}: unknown setting" + (f" (did you mean {near[t][0]}?)" if near[t] else "")
                          for t in typos)
        raise SweboardError(f"{hints}; settings are those of {path.name}: {sorted(f for f in fields if f != 'overrides')}")
    data = {**data, **(overrides or {})}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise SweboardError(f"{path}: unknown settings {unknown}; expected some of {sorted(fields)}")
    values = {}
    for name, value in data.items():
        if name == "overrides":
            values[name] = _overrides(value or [], path)
        else:
            where = f"--set {name}" if name in (overrides or {}) else f"{path}.{name}"
            values[name] = _convert(type(getattr(RunnerConfig, name)), value, where)
            _check_bounds(name, values[name], where)
    config = RunnerConfig(**values)
    for name, allowed in (("history", ("strict", "sanitize")), ("evaluation_regrade", ("auto", "resolved", "all", "none"))):
        if getattr(config, name) not in allowed:
            where = f"--set {name}" if name in (overrides or {}) else f"{path}.{name}"
            raise SweboardError(f"{where}: expected one of {list(allowed)}, got {getattr(config, name)!r}")
    if not 0 <= config.evaluation_regrade_sample <= 1:
        raise SweboardError(f"{path}.evaluation_regrade_sample: expected a share between 0 and 1")
    if config.runner not in RUNNERS:
        raise SweboardError(f"{path}.runner: expected one of {list(RUNNERS)}, got {config.runner!r}")
    if config.attempt_timeout_seconds <= 0:
        raise SweboardError(f"{path}.attempt_timeout_seconds: expected a positive number, got {config.attempt_timeout_seconds}")
    if not 1 <= config.attempts <= 3:
        raise SweboardError(f"{path}.attempts: expected 1, 2 or 3, got {config.attempts}")
    if not 0 < config.cpu_ceiling_percent <= 100:
        raise SweboardError(f"{path}.cpu_ceiling_percent: expected a percentage in (0, 100], got {config.cpu_ceiling_percent:g}")
    return config


def _comparable(config: dict) -> dict:
    return json.loads(json.dumps(config))


def config_differences(old: dict, new: dict, ignore: tuple[str, ...] = ()) -> list[str]:
    """Settings that differ; a setting the older run did not have yet counts as its default."""
    old, new = _comparable(old), _comparable(new)
    defaults = _comparable(RunnerConfig().to_dict())
    return sorted(k for k in set(old) | set(new)
                  if k not in ignore and old.get(k, defaults.get(k)) != new.get(k, defaults.get(k)))


def same_settings(run_id: str, manifest: dict, config) -> None:
    """A resumed run keeps its experiment: the same settings, capacity aside (runners may differ per model)."""
    diff = config_differences(manifest["runner_config"], config.to_dict(), ignore=("runner", *CAPACITY_SETTINGS))
    if diff:
        old, new = manifest["runner_config"], config.to_dict()
        detail = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in diff)
        raise SweboardError(f"run {run_id} was started with other settings ({detail}); resume with the same "
                            "settings, or use a new --run-id")
