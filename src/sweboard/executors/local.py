"""The default executor: attempts in the batch's threads, containers on this machine's Docker."""

from __future__ import annotations

from pathlib import Path

from sweboard.attempt import node_facts, run_attempt
from sweboard.runners.base import Attempt, AttemptResult, Runner


class LocalExecutor:
    name = "local"
    guards_cpu = True

    def prepare(self, rows: list[dict], runner: Runner | None, log, run_id: str | None = None,
                split: str | None = None) -> None:
        from sweboard.task_images import ensure_images
        from sweboard.errors import SweboardError

        ensure_images(rows, log)  # before any attempt's clock: a pull is never the model's time
        if runner is not None and hasattr(runner, "prepare_images"):
            try:  # SWE-agent's derived images
                runner.prepare_images([r["image"] for r in rows], log)
            except SweboardError as exc:
                log(f"SWE-agent images: {exc}")  # each attempt of such a task is infrastructure's failure

    def plan_images(self, rows: list[dict], mode: str, log) -> tuple[dict, dict, dict]:
        from sweboard.validity.history import plan_images

        return plan_images(rows, mode, lambda s: log(f"  {s}"))

    def run(self, attempt: Attempt, runner: Runner, api_key: str | None,
            secrets: list[str]) -> tuple[AttemptResult, dict]:
        result = run_attempt(attempt, runner, api_key, secrets)
        return result, node_facts(None if attempt.model.is_baseline else attempt.row["image"])

    def run_harness(self, cmd: list[str], workdir: Path, near: dict | None = None,
                    soft: bool = True) -> tuple[int, float, dict]:
        from sweboard.harness import run_harness

        code, seconds = run_harness(cmd, workdir)
        return code, seconds, node_facts()

    def reap(self, label: str) -> int:
        from sweboard.dockerutil import remove_labelled_containers

        return remove_labelled_containers(label)

    def reap_named(self, names: list[str]) -> int:
        from sweboard.dockerutil import remove_named_containers

        return remove_named_containers(names)

    def close(self) -> None:
        pass
