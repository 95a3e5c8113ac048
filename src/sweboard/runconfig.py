"""Runner settings (`config/sweagent.yaml`): which agent, its limits, and concurrency."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from sweboard.errors import SweboardError
from sweboard.paths import config_dir
from sweboard.yamlio import load_yaml

RUNNERS = ("mini", "sweagent")


@dataclass(frozen=True)
class RunnerConfig:
    runner: str = "mini"
    attempt_timeout_seconds: float = 45.0
    step_limit: int = 30
    cost_limit: float = 0.0  # dollars per attempt; 0 leaves budgets to sweboard
    temperature: float = 0.0
    seed: int = 42
    max_tokens: int = 4096
    workers: int = 1
    evaluator_workers: int = 4
    evaluator_timeout_seconds: int = 300
    command_timeout_seconds: int = 30

    def to_dict(self) -> dict:
        return asdict(self)


def max_workers() -> int:
    """Never plan more parallel work than 80% of the machine's cores (at least 1)."""
    return max(1, int((os.cpu_count() or 1) * 0.8))


def load_runner_config(path: Path | None = None, overrides: dict | None = None) -> RunnerConfig:
    path = path or config_dir() / "sweagent.yaml"
    data = load_yaml(path) or {}
    if not isinstance(data, dict):
        raise SweboardError(f"{path}: expected a mapping of settings")
    data = {**data, **(overrides or {})}
    fields = RunnerConfig.__dataclass_fields__
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise SweboardError(f"{path}: unknown settings {unknown}; expected some of {sorted(fields)}")
    values = {}
    for name, value in data.items():
        kind = type(getattr(RunnerConfig, name))
        try:
            values[name] = kind(value)
        except (TypeError, ValueError):
            raise SweboardError(f"{path}.{name}: expected {kind.__name__}, got {value!r}") from None
    config = RunnerConfig(**values)
    if config.runner not in RUNNERS:
        raise SweboardError(f"{path}.runner: expected one of {list(RUNNERS)}, got {config.runner!r}")
    if config.attempt_timeout_seconds <= 0:
        raise SweboardError(f"{path}.attempt_timeout_seconds: expected a positive number, got {config.attempt_timeout_seconds}")
    return config
