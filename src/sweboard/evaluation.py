"""Wrapping the official SWE-bench evaluator (unmodified `swebench`) on a run's predictions.

Pitfalls this module exists to mind (swebench 5.0.2):
- verdicts are cached per evaluator run id (an existing `report.json` is reused even for a
  different patch), so every evaluation gets a fresh evaluator run id, never reused;
- a patch that fails to apply, and a test timeout, land in `error_ids` (no report.json),
  not `unresolved_ids`; empty patches land in `empty_patch_ids` without a container;
- `swebench report` only works for gold runs, so we run `run_evaluation` and read its
  per-run report and per-instance `report.json` ourselves.
The evaluator is handed the run's own `dataset.jsonl` (the locked rows of the slice), and
its logs are kept under `runs/<run_id>/evaluation/`, next to the trajectories.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from sweboard.errors import SweboardError
from sweboard.manifest import read_manifest, run_dir, sampled_cpu, update_manifest, utc_now
from sweboard.paths import project_root
from sweboard.runconfig import max_workers

VERDICT_KEYS = (("resolved_ids", "resolved"), ("unresolved_ids", "unresolved"),
                ("empty_patch_ids", "empty_patch"), ("error_ids", "error"))


@dataclass(frozen=True)
class EvalPlan:
    run_id: str
    model_id: str
    eval_run_id: str
    workdir: Path
    dataset: Path
    predictions: Path
    instance_ids: list[str]
    command: list[str]


def _slug(model_id: str) -> str:
    return model_id.replace("/", "__")


def next_eval_run_id(run_id: str, model_id: str) -> str:
    """A fresh evaluator run id: the harness caches verdicts per id, so ids are never reused."""
    base = run_dir(run_id) / "evaluation" / _slug(model_id)
    n = 1
    while (base / f"e{n}").exists():
        n += 1
    return f"{run_id}.{_slug(model_id)}.e{n}"


def evaluator_command(dataset: Path, split: str, predictions: Path | str, eval_run_id: str, instance_ids: list[str],
                      workers: int, timeout: int) -> list[str]:
    return [sys.executable, "-m", "swebench.harness.run_evaluation",
            "--dataset_name", str(dataset), "--split", split,
            "--predictions_path", str(predictions), "--run_id", eval_run_id,
            "--max_workers", str(workers), "--timeout", str(timeout), "--report_dir", ".",
            "--instance_ids", *instance_ids]


def plan_evaluation(run_id: str, model_id: str, workers: int | None = None, timeout: int | None = None) -> EvalPlan:
    manifest = read_manifest(run_id)
    if manifest is None:
        raise SweboardError(f"runs/{run_id}/manifest.json: no such run")
    batch = manifest["batches"].get(model_id)
    if batch is None:
        raise SweboardError(f"run {run_id}: no batch for model {model_id!r}; batches: {sorted(manifest['batches'])}")
    preds = project_root() / batch["predictions"]
    ids = [json.loads(line)["instance_id"] for line in preds.read_text().splitlines() if line.strip()] if preds.is_file() else []
    cfg = manifest["runner_config"]
    workers = max(1, min(workers or cfg["evaluator_workers"], max_workers()))
    eval_id = next_eval_run_id(run_id, model_id)
    workdir = run_dir(run_id) / "evaluation" / _slug(model_id) / eval_id.rsplit(".", 1)[1]
    dataset = run_dir(run_id) / manifest["dataset_file"]
    cmd = evaluator_command(dataset, manifest["slice"]["split"], preds, eval_id, ids, workers,
                            timeout or cfg["evaluator_timeout_seconds"])
    return EvalPlan(run_id, model_id, eval_id, workdir, dataset, preds, ids, cmd)


def run_harness(cmd: list[str], workdir: Path) -> tuple[int, float]:
    workdir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with (workdir / "evaluator.log").open("w") as log:
        log.write("$ " + shlex.join(cmd) + "\n")
        log.flush()
        proc = subprocess.run(cmd, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return proc.returncode, time.monotonic() - start


def read_verdicts(workdir: Path, model_name: str, eval_run_id: str, instance_ids: list[str]) -> tuple[dict, Path | None]:
    """Per-instance verdicts from the harness's run report; instances it never reached are `error`."""
    report = workdir / f"{model_name.replace('/', '__')}.{eval_run_id}.json"
    verdicts = {}
    if report.is_file():
        data = json.loads(report.read_text())
        for key, verdict in VERDICT_KEYS:
            for iid in data.get(key, []):
                verdicts.setdefault(iid, verdict)
    for iid in instance_ids:
        verdicts.setdefault(iid, "error")
    return verdicts, (report if report.is_file() else None)


def instance_log_dir(workdir: Path, eval_run_id: str, model_name: str, instance_id: str) -> Path:
    return workdir / "logs" / "run_evaluation" / eval_run_id / model_name.replace("/", "__") / instance_id


def evaluate(run_id: str, model_id: str, workers: int | None = None, timeout: int | None = None, log=print) -> dict:
    """Evaluate one model's predictions in a run and record the result in the manifest."""
    plan = plan_evaluation(run_id, model_id, workers, timeout)
    manifest = read_manifest(run_id)
    if manifest.get("status") == "finished":
        raise SweboardError(f"run {run_id} is finished and immutable")
    if not plan.instance_ids:
        entry = {"status": "not evaluated: no predictions", "evaluated_at": utc_now()}
        update_manifest(run_id, lambda m: m["evaluations"].__setitem__(model_id, entry))
        log(f"{model_id}: no predictions to evaluate")
        return entry
    from sweboard.dockerutil import require_engine

    require_engine()
    stats: dict = {}
    started_at = utc_now()
    with sampled_cpu(stats):
        code, seconds = run_harness(plan.command, plan.workdir)
    verdicts, report = read_verdicts(plan.workdir, model_id, plan.eval_run_id, plan.instance_ids)
    rel = lambda p: str(p.relative_to(run_dir(run_id)))  # noqa: E731
    per_instance = {}
    for iid in plan.instance_ids:
        d = instance_log_dir(plan.workdir, plan.eval_run_id, model_id, iid)
        per_instance[iid] = {"verdict": verdicts[iid],
                             "report": rel(d / "report.json") if (d / "report.json").is_file() else None,
                             "test_output": rel(d / "test_output.txt") if (d / "test_output.txt").is_file() else None,
                             "log": rel(d / "run_instance.log") if (d / "run_instance.log").is_file() else None}
    counts = {v: sum(1 for x in verdicts.values() if x == v) for _, v in VERDICT_KEYS}
    entry = {
        "status": "ok" if code == 0 and report is not None else f"evaluator failed (exit {code})",
        "evaluator": {"package": "swebench", "version": version("swebench"), "command": shlex.join(plan.command),
                      "exit_code": code, "run_id": plan.eval_run_id},
        "started_at": started_at, "finished_at": utc_now(), "wall_seconds": round(seconds, 2),
        "peak_cpu_percent": stats.get("peak_cpu_percent"), "mean_cpu_percent": stats.get("mean_cpu_percent"),
        "workdir": rel(plan.workdir), "report": rel(report) if report else None,
        "counts": counts, "instances": per_instance,
    }
    update_manifest(run_id, lambda m: m["evaluations"].__setitem__(model_id, entry))
    log(f"{model_id}: {counts['resolved']} resolved, {counts['unresolved']} unresolved, "
        f"{counts['empty_patch']} empty, {counts['error']} errors ({seconds:.1f}s, evaluator exit {code})")
    return entry
