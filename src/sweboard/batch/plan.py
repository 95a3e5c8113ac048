"""A batch's plan: one model over one slice, with the locked rows and the run's settings."""

from __future__ import annotations

from dataclasses import dataclass

from sweboard.catalog import ModelEntry
from sweboard.dataset_lock import DatasetLock
from sweboard.instances import Slice
from sweboard.runconfig import RunnerConfig


@dataclass(frozen=True)
class BatchPlan:
    run_id: str
    model: ModelEntry
    slice: Slice
    lock: DatasetLock
    rows: list[dict]
    config: RunnerConfig
    run_kind: str | None = None  # "canary" / "preflight": a check, never on the board, from its first write

    def attempts_for(self, instance_id: str) -> tuple[int, str]:
        if self.model.is_baseline:
            return 1, "the no-patch baseline is deterministic: one attempt"
        return self.config.attempts_for(self.model.id, instance_id)
