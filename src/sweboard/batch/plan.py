"""A batch's plan: one model over one slice, with the locked rows and the run's settings."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    agent_images: dict = field(default_factory=dict)  # instance -> the image its attempts start from (sanitized)
    blocked: dict = field(default_factory=dict)  # instance -> why its attempts cannot run (a leaky image, strict)
    history: dict = field(default_factory=dict)  # instance -> its image's history audit

    def agent_row(self, row: dict) -> dict:
        """The row an attempt is given: its image replaced by the sanitized one where there is one (the
        evaluator keeps grading the original: the run's dataset.jsonl never changes)."""
        image = self.agent_images.get(row["instance_id"])
        return {**row, "image": image, "original_image": row["image"]} if image else row

    def attempts_for(self, instance_id: str) -> tuple[int, str]:
        if self.model.is_baseline:
            return 1, "the no-patch baseline is deterministic: one attempt"
        return self.config.attempts_for(self.model.id, instance_id)
