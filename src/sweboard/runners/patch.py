"""The canary's stand-in agents: submit the row's gold patch (`gold-patch`) or nothing (`empty-patch`).

Why a runner of its own, known by name: on a cluster an attempt travels to its node as (spec, runner
name) and the node builds the runner with `get_runner`; a runner only the controller could build
made every driver's preflight fail with `--cluster` (the canary's attempts never reached a node).
"""

from __future__ import annotations

import time

from sweboard.runners.base import Attempt, AttemptResult

NAMES = {"gold-patch": True, "empty-patch": False}


class PatchRunner:
    """Submits a fixed patch per task: the row's gold patch, or nothing. No container, no model."""

    def __init__(self, gold: bool):
        self.gold = gold
        self.name = "gold-patch" if gold else "empty-patch"

    def version(self) -> str | None:
        return None

    def run(self, attempt: Attempt, api_key: str | None, secrets: list[str]) -> AttemptResult:
        started = time.monotonic()
        patch = attempt.row["patch"] if self.gold else ""
        return AttemptResult("submitted" if patch.strip() else "empty", "Submitted", patch,
                             duration_seconds=time.monotonic() - started)
