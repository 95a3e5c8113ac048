"""Wrapping the official SWE-bench evaluator (unmodified `swebench`); the unit graded is the attempt.

Pitfalls this module exists to mind (swebench 5.0.2):
- verdicts are cached per evaluator run id (an existing `report.json` is reused even for a
  different patch), so every harness invocation gets a fresh evaluator run id, never reused;
- a patch that fails to apply, and a test timeout, land in `error_ids` (no report.json),
  not `unresolved_ids`; empty patches land in `empty_patch_ids` without a container; we
  read the instance log to say *why* an error happened (malformed patch, path not found…);
- `swebench report` only works for gold runs, so we run `run_evaluation` and read its
  per-run report and per-instance `report.json` ourselves.
Each harness invocation grades one attempt index for a set of instances (one prediction
per instance, as the harness requires). It is handed the run's own `dataset.jsonl` (the
locked rows of the slice) and the exact predictions file it graded is kept in its folder,
`runs/<run_id>/evaluation/<model>/e<n>/`, with its logs. Each attempt's `verdict.json`
points there.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

from sweboard.errors import SweboardError
from sweboard.manifest import read_manifest, run_dir, sampled_cpu, update_manifest, utc_now
from sweboard.runconfig import max_workers

VERDICT_KEYS = (("resolved_ids", "resolved"), ("unresolved_ids", "unresolved"),
                ("empty_patch_ids", "empty_patch"), ("error_ids", "error"))
VERDICT = "verdict.json"


def _slug(model_id: str) -> str:
    return model_id.replace("/", "__")


def new_eval_dir(run_id: str, model_id: str) -> tuple[Path, str]:
    """A fresh folder and evaluator run id (atomic mkdir: safe with parallel evaluations)."""
    base = run_dir(run_id) / "evaluation" / _slug(model_id)
    base.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        try:
            (base / f"e{n}").mkdir()
            return base / f"e{n}", f"{run_id}.{_slug(model_id)}.e{n}"
        except FileExistsError:
            n += 1


def _workers(cfg: dict, requested: int | None = None) -> int:
    """Evaluator workers: as asked (or configured), never above 80% of the cores."""
    return max(1, min(requested or cfg["evaluator_workers"], max_workers()))


def planned_commands(run_id: str, model_id: str) -> list[tuple[str, Path, list[str]]]:
    """For --dry-run: the exact (evaluator run id, folder, command) each pending attempt index would get."""
    manifest = read_manifest(run_id)
    cfg = manifest["runner_config"]
    base = run_dir(run_id) / "evaluation" / _slug(model_id)
    n = 1
    out = []
    groups: dict[int, list[str]] = {}
    for iid, k, _, _ in pending_attempts(run_id, model_id):
        groups.setdefault(k, []).append(iid)
    for _, ids in sorted(groups.items()):
        while (base / f"e{n}").exists():
            n += 1
        workdir, eval_id = base / f"e{n}", f"{run_id}.{_slug(model_id)}.e{n}"
        cmd = evaluator_command(run_dir(run_id) / manifest["dataset_file"], manifest["slice"]["split"],
                                workdir / "predictions.jsonl", eval_id, ids,
                                _workers(cfg), cfg["evaluator_timeout_seconds"])
        out.append((eval_id, workdir, cmd))
        n += 1
    return out


def evaluator_command(dataset: Path, split: str, predictions: Path | str, eval_run_id: str, instance_ids: list[str],
                      workers: int, timeout: int) -> list[str]:
    return [sys.executable, "-m", "swebench.harness.run_evaluation",
            "--dataset_name", str(dataset), "--split", split,
            "--predictions_path", str(predictions), "--run_id", eval_run_id,
            "--max_workers", str(workers), "--timeout", str(timeout), "--report_dir", ".",
            "--instance_ids", *instance_ids]


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


_APPLY_FAILED = ">>>>> Patch Apply Failed"


def error_class(log_dir: Path) -> str:
    """Why the harness could not grade: read from its instance log (it says, but does not classify)."""
    log = log_dir / "run_instance.log"
    text = log.read_text(errors="replace") if log.is_file() else ""
    if _APPLY_FAILED in text or "Patch Apply Failed" in text:
        if re.search(r"corrupt patch|malformed patch|Only garbage was found|patch fragment without header", text):
            return "malformed_patch"
        if re.search(r"No such file or directory|can't find file to patch|does not exist in index", text):
            return "path_not_found"
        return "patch_apply_failed"
    if "Test timed out" in text or "timed out after" in text:
        return "test_timeout"
    return "evaluator_error"


def evaluate_attempts(run_id: str, model_id: str, items: list[tuple[str, int, Path, str]],
                      workers: int | None = None, timeout: int | None = None) -> dict[tuple[str, int], dict]:
    """Grade attempts. items: (instance_id, attempt index, attempt dir, patch). Writes each verdict.json."""
    manifest = read_manifest(run_id)
    cfg = manifest["runner_config"]
    workers = _workers(cfg, workers)
    timeout = timeout or cfg["evaluator_timeout_seconds"]
    dataset = run_dir(run_id) / manifest["dataset_file"]
    swebench_version = version("swebench")
    out: dict[tuple[str, int], dict] = {}
    by_index: dict[int, list] = {}
    for item in items:
        by_index.setdefault(item[1], []).append(item)
    for k, group in sorted(by_index.items()):
        workdir, eval_id = new_eval_dir(run_id, model_id)
        preds = workdir / "predictions.jsonl"
        preds.write_text("".join(json.dumps({"instance_id": iid, "model_name_or_path": model_id, "model_patch": patch,
                                             "attempt": k}) + "\n" for iid, k, _, patch in group))
        ids = [iid for iid, _, _, _ in group]
        cmd = evaluator_command(dataset, manifest["slice"]["split"], preds, eval_id, ids, workers, timeout)
        code, seconds = run_harness(cmd, workdir)
        verdicts, report = read_verdicts(workdir, model_id, eval_id, ids)
        rel = lambda p: str(p.relative_to(run_dir(run_id)))  # noqa: E731
        for iid, k, attempt_dir, _ in group:
            d = instance_log_dir(workdir, eval_id, model_id, iid)
            verdict = {
                "instance_id": iid, "attempt": k, "verdict": verdicts[iid],
                "error_class": error_class(d) if verdicts[iid] == "error" else "",
                "evaluator": {"package": "swebench", "version": swebench_version, "run_id": eval_id,
                              "command": shlex.join(cmd), "exit_code": code},
                "wall_seconds": round(seconds, 2), "evaluated_at": utc_now(), "workdir": rel(workdir),
                "report": rel(report) if report else None,
                "instance_report": rel(d / "report.json") if (d / "report.json").is_file() else None,
                "test_output": rel(d / "test_output.txt") if (d / "test_output.txt").is_file() else None,
                "instance_log": rel(d / "run_instance.log") if (d / "run_instance.log").is_file() else None,
            }
            tmp = attempt_dir / f".{VERDICT}.tmp"
            tmp.write_text(json.dumps(verdict, indent=2))
            os.replace(tmp, attempt_dir / VERDICT)
            out[(iid, k)] = verdict
    return out


def read_verdict(attempt_dir: Path) -> dict | None:
    try:
        return json.loads((attempt_dir / VERDICT).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def evaluation_entry(run_id: str, model_id: str) -> dict:
    """The manifest's view of a model's grading: per task, every attempt's verdict, and totals."""
    manifest = read_manifest(run_id)
    batch = manifest["batches"][model_id]
    instances: dict[str, list[dict]] = {}
    harness_runs: dict[str, dict] = {}
    for iid, attempts in batch["attempts"].items():
        instances[iid] = []
        for a in attempts:
            v = read_verdict(run_dir(run_id) / Path(a["record"]).parent)
            if v is None:
                continue
            instances[iid].append({k: v[k] for k in ("attempt", "verdict", "error_class", "instance_report",
                                                      "test_output", "instance_log")})
            harness_runs[v["evaluator"]["run_id"]] = {"exit_code": v["evaluator"]["exit_code"],
                                                      "wall_seconds": v["wall_seconds"], "workdir": v["workdir"],
                                                      "command": v["evaluator"]["command"]}
    final = {iid: ("resolved" if any(x["verdict"] == "resolved" for x in vs) else (vs[-1]["verdict"] if vs else None))
             for iid, vs in instances.items()}
    graded = [v for v in final.values() if v]
    failed = [r for r in harness_runs.values() if r["exit_code"] != 0]
    complete = all(len(instances[iid]) == len(a) for iid, a in batch["attempts"].items())
    return {
        "status": "ok" if complete and not failed else ("evaluator failed" if failed else "incomplete"),
        "evaluator": {"package": "swebench", "version": version("swebench")},
        "harness_runs": harness_runs,
        "wall_seconds": round(sum(r["wall_seconds"] for r in harness_runs.values()), 2),
        "counts": {v: sum(1 for x in graded if x == v) for _, v in VERDICT_KEYS},
        "instances": instances,
    }


def pending_attempts(run_id: str, model_id: str) -> list[tuple[str, int, Path, str]]:
    manifest = read_manifest(run_id)
    items = []
    for iid, attempts in manifest["batches"][model_id]["attempts"].items():
        for a in attempts:
            d = run_dir(run_id) / Path(a["record"]).parent
            if read_verdict(d) is None:
                record = json.loads((d / "record.json").read_text())
                items.append((iid, a["attempt"], d, record["patch"]))
    return items


def evaluate(run_id: str, model_id: str, workers: int | None = None, timeout: int | None = None, log=print) -> dict:
    """Grade every recorded attempt of a model that has no verdict yet; record the totals in the manifest."""
    manifest = read_manifest(run_id)
    if manifest is None:
        raise SweboardError(f"runs/{run_id}/manifest.json: no such run")
    if manifest.get("status") == "finished":
        raise SweboardError(f"run {run_id} is finished and immutable")
    if model_id not in manifest["batches"]:
        raise SweboardError(f"run {run_id}: no batch for model {model_id!r}; batches: {sorted(manifest['batches'])}")
    items = pending_attempts(run_id, model_id)
    stats: dict = {}
    if items:
        from sweboard.dockerutil import require_engine

        require_engine()
        with sampled_cpu(stats):
            evaluate_attempts(run_id, model_id, items, workers, timeout)
    entry = evaluation_entry(run_id, model_id)
    entry["peak_cpu_percent"] = stats.get("peak_cpu_percent")
    update_manifest(run_id, lambda m: m["evaluations"].__setitem__(model_id, entry))
    c = entry["counts"]
    log(f"{model_id}: {c['resolved']} resolved, {c['unresolved']} unresolved, {c['empty_patch']} empty, "
        f"{c['error']} errors ({len(items)} attempts graded now, {entry['wall_seconds']:.1f}s in the evaluator)")
    return entry
