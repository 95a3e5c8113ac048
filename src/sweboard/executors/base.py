"""The executor contract: what a batch and the evaluator ask of the place attempts run."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from sweboard.runners.base import Attempt, AttemptResult, Runner


class Executor(Protocol):
    name: str  # "local" | "ray"
    guards_cpu: bool  # True: this machine's CPU guardrail gates new work (it runs here)

    def prepare(self, rows: list[dict], runner: Runner | None, log, run_id: str | None = None,
                split: str | None = None) -> None:
        """Before any attempt's clock: every task image present where attempts will run (and a
        runner's derived images, e.g. SWE-agent's); with `run_id`, each node's evaluator canary."""

    def plan_images(self, rows: list[dict], mode: str, log) -> tuple[dict, dict, dict]:
        """Where attempts will run: each task image's history audit, and under `sanitize` the derived images
        (validity/history.py). Returns (instance -> agent image, instance -> why not runnable, audits)."""

    def run(self, attempt: Attempt, runner: Runner, api_key: str | None,
            secrets: list[str]) -> tuple[AttemptResult, dict]:
        """Run one attempt; its folder `attempt.out_dir` is filled and scrubbed here, on the
        caller's disk. Returns the result and where it ran (`attempt.node_facts`)."""

    def run_harness(self, cmd: list[str], workdir: Path, near: dict | None = None,
                    soft: bool = True) -> tuple[int, float, dict]:
        """Run the official evaluator's command with its outputs in `workdir` (near the node an
        attempt ran on, when known). Returns (exit code, seconds, where it ran)."""

    def reap(self, label: str) -> int:
        """Remove every container carrying `label` (key=value) wherever this executor runs them."""

    def reap_named(self, names: list[str]) -> int:
        """Remove every container with one of these names (the official harness's, which carry no label of
        ours) wherever this executor runs gradings."""

    def close(self) -> None: ...
