"""Folding run manifests into `runs/manifests.csv` and `runs/leaderboard.csv`.

Every leaderboard row is one (run_id, model) batch and carries its run_id; its numbers come
only from that run's manifest, which points to the records, trajectories, predictions and
evaluator reports behind them. Rows from the scripted provider are labelled
`test-equipment` and are never a model's result. pass@k: see docs/metrics.md.
"""

from __future__ import annotations

import csv
import html
import json
import os
from math import comb
from pathlib import Path

from sweboard.errors import SweboardError
from sweboard.paths import config_dir, runs_dir
from sweboard.yamlio import load_yaml, require

MANIFEST_COLUMNS = ("run_id", "run_status", "created_at", "model", "kind", "runner", "runner_version", "batch_status",
                    "attempts", "dataset", "dataset_revision", "split", "instance_ids_sha256", "project_commit",
                    "project_dirty", "swebench", "docker_engine", "peak_cpu_percent", "wall_time_s", "evaluator_run_ids")
AGENT_ERRORS = {"timeout": "err_timeout", "provider_error": "err_provider_error", "rate_limited": "err_rate_limited",
                "context_overflow": "err_context_overflow", "malformed_output": "err_malformed_output"}
EVAL_ERRORS = {"malformed_patch": "err_malformed_patch", "patch_apply_failed": "err_patch_apply_failed",
               "path_not_found": "err_path_not_found", "test_timeout": "err_timeout"}


def columns(version: str | None = None, path: Path | None = None) -> tuple[str, ...]:
    path = path or config_dir() / "leaderboard_columns.yaml"
    data = load_yaml(path)
    versions = require(data, "versions", dict, str(path))
    version = version or data.get("default")
    if version not in versions:
        raise SweboardError(f"{path}: no leaderboard version {version!r}; expected one of {sorted(versions)}")
    return tuple(versions[version])


def load_manifests(root: Path | None = None) -> list[dict]:
    root = root or runs_dir()
    manifests = []
    for path in sorted(root.glob("*/manifest.json")):
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise SweboardError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if data.get("kind") == "testbench-gold-check":
            continue
        manifests.append(data)
    return manifests


def pass_at_k(n: int, c: int, k: int) -> float:
    """Chen et al. (2021): 1 - C(n-c, k) / C(n, k), the chance that k of n samples include a correct one."""
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def task_outcomes(manifest: dict, model_id: str) -> dict[str, list[dict]]:
    """Per task, its attempts in order, each with the agent's status and (if graded) the evaluator's verdict."""
    batch = manifest["batches"][model_id]
    graded = (manifest.get("evaluations", {}).get(model_id) or {}).get("instances", {})
    out = {}
    for iid, attempts in batch["attempts"].items():
        verdicts = {v["attempt"]: v for v in graded.get(iid, [])}
        out[iid] = [{**a, "verdict": verdicts.get(a["attempt"], {}).get("verdict"),
                     "eval_error_class": verdicts.get(a["attempt"], {}).get("error_class", "")} for a in attempts]
    return out


def batch_metrics(manifest: dict, model_id: str) -> dict:
    batch = manifest["batches"][model_id]
    tasks = task_outcomes(manifest, model_id)
    n_tasks = len(manifest["slice"]["instance_ids"])
    attempts = [a for per in tasks.values() for a in per]
    k = max([batch.get("attempts_per_task", 1)] + [a["attempt"] for a in attempts])
    graded_all = attempts and all(a["verdict"] for a in attempts)
    unbiased = (not batch.get("stop_after_resolved", True) and graded_all
                and all(len(per) >= k for per in tasks.values()) and len(tasks) == n_tasks)
    if unbiased:
        p1 = sum(pass_at_k(len(per), sum(a["verdict"] == "resolved" for a in per), 1) for per in tasks.values()) / n_tasks
        pk = sum(pass_at_k(len(per), sum(a["verdict"] == "resolved" for a in per), k) for per in tasks.values()) / n_tasks
        estimator = f"unbiased (n={k})"
    else:
        p1 = sum(1 for per in tasks.values() if per and per[0]["verdict"] == "resolved") / n_tasks if n_tasks else 0
        pk = sum(1 for per in tasks.values() if any(a["verdict"] == "resolved" for a in per)) / n_tasks if n_tasks else 0
        estimator = "first attempt / within K"
    resolved = sum(1 for per in tasks.values() if any(a["verdict"] == "resolved" for a in per))
    errors = {c: 0 for c in [*AGENT_ERRORS.values(), *EVAL_ERRORS.values()]}
    for a in attempts:
        if a["error_class"] in AGENT_ERRORS:
            errors[AGENT_ERRORS[a["error_class"]]] += 1
        if a["eval_error_class"] in EVAL_ERRORS:
            errors[EVAL_ERRORS[a["eval_error_class"]]] += 1
    final = [per[-1] for per in tasks.values() if per]
    usage = [a.get("usage") or {} for a in attempts]
    ev = manifest.get("evaluations", {}).get(model_id) or {}
    status = batch["status"]
    if status == "ok" and not graded_all:
        status = "not graded" if not ev else "incomplete grading"
    return {
        "instances": n_tasks, "K": k, "attempts_total": len(attempts),
        "attempts_mean": round(len(attempts) / n_tasks, 2) if n_tasks else 0,
        "pass@1": round(p1, 4), "pass@K": round(pk, 4), "pass_estimator": estimator,
        "resolved": resolved, "resolve_rate": round(resolved / n_tasks, 4) if n_tasks else 0,
        "submitted": sum(1 for per in tasks.values() if any(a["status"] == "submitted" for a in per)),
        "empty_patches": sum(1 for a in final if a["verdict"] == "empty_patch"),
        "errors": sum(1 for a in final if a["status"] in ("error", "timeout") or a["verdict"] == "error"),
        "run_fail_rate": round(sum(a["status"] in ("error", "timeout") for a in attempts) / len(attempts), 4) if attempts else 0,
        **errors,
        "retries": sum(u.get("retries", 0) for u in usage),
        "model_calls": sum(u.get("model_calls", 0) for u in usage),
        "prompt_tokens": sum(u.get("prompt_tokens", 0) for u in usage),
        "completion_tokens": sum(u.get("completion_tokens", 0) for u in usage),
        "wall_time_s": round(batch["wall_seconds"] + ev.get("wall_seconds", 0), 1),
        "status": status,
    }


def leaderboard_rows(manifests: list[dict]) -> list[dict]:
    rows = []
    for m in manifests:
        metrics = {model_id: batch_metrics(m, model_id) for model_id in m.get("batches", {})}
        baseline = next((metrics[mid]["pass@1"] for mid, b in m["batches"].items()
                         if b["kind"] == "baseline" and metrics[mid]["status"] == "ok"), None)
        for model_id, batch in m["batches"].items():
            row = {"model": model_id, "provider": batch["model"]["provider"], "kind": batch["kind"],
                   "run_id": m["run_id"], "dataset": m["dataset_lock"]["repo_id"],
                   "dataset_revision": m["dataset_lock"]["revision"][:12], "split": m["slice"]["split"],
                   **metrics[model_id]}
            row["baseline_pass@1"] = "" if baseline is None else baseline
            row["delta_vs_baseline"] = "" if baseline is None else round(row["pass@1"] - baseline, 4)
            rows.append(row)
    kind_order = {"model": 0, "test-equipment": 1, "baseline": 2}
    rows.sort(key=lambda r: (kind_order.get(r["kind"], 3), -r["pass@K"], -r["pass@1"], r["model"], r["run_id"]))
    return rows


def manifest_rows(manifests: list[dict]) -> list[dict]:
    rows = []
    for m in manifests:
        for model_id, batch in m.get("batches", {}).items():
            ev = m.get("evaluations", {}).get(model_id) or {}
            rows.append({
                "run_id": m["run_id"], "run_status": m.get("status"), "created_at": m.get("created_at"),
                "model": model_id, "kind": batch["kind"], "runner": batch["runner"],
                "runner_version": batch.get("runner_version"), "batch_status": batch["status"],
                "attempts": sum(len(v) for v in batch["attempts"].values()),
                "dataset": m["dataset_lock"]["repo_id"], "dataset_revision": m["dataset_lock"]["revision"],
                "split": m["slice"]["split"], "instance_ids_sha256": m["slice"]["instance_ids_sha256"],
                "project_commit": m["project"].get("commit"), "project_dirty": m["project"].get("dirty"),
                "swebench": m["versions"].get("swebench"), "docker_engine": m["versions"].get("docker_engine"),
                "peak_cpu_percent": max(filter(None, [batch.get("peak_cpu_percent"), ev.get("peak_cpu_percent")]), default=""),
                "wall_time_s": batch["wall_seconds"],
                "evaluator_run_ids": " ".join(sorted(ev.get("harness_runs", {}))),
            })
    return rows


def write_csv(path: Path, cols: tuple[str, ...], rows: list[dict]) -> Path:
    """Write atomically: an analyst with the old file open never sees a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(cols), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
    return path


def write_html(path: Path, cols: tuple[str, ...], rows: list[dict]) -> Path:
    """A static page of the same rows for the analyst: sortable by eye, each run_id linking to its manifest."""
    def cell(col: str, row: dict) -> str:
        value = row.get(col, "")
        if col == "run_id":
            return f'<a href="{html.escape(str(value))}/manifest.json">{html.escape(str(value))}</a>'
        if col in ("pass@1", "pass@K") and value != "":
            pct = round(float(value) * 100)
            return f'<span class="bar" style="--w:{pct}%">{value}</span>'
        return html.escape(str(value))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "\n".join(f'<tr class="{html.escape(r["kind"])}">' + "".join(f'<td class="{html.escape(c)}">{cell(c, r)}</td>' for c in cols) + "</tr>"
                     for r in rows)
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>sweboard leaderboard</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; }} th, td {{ border: 1px solid #ccc; padding: 3px 6px; white-space: nowrap; }}
td.status {{ white-space: normal; min-width: 16em; max-width: 28em; }}
th {{ background: #f2f2f2; position: sticky; top: 0; }}
tr.test-equipment td {{ color: #777; font-style: italic; }} tr.baseline td {{ background: #fafafa; }}
.bar {{ display: inline-block; min-width: 4em; background: linear-gradient(90deg, #9cd3a4 var(--w), transparent var(--w)); }}
</style></head><body>
<h1>sweboard leaderboard</h1>
<p>One row per (run_id, model); every number comes from the linked <code>manifest.json</code>.
Rows of kind <em>test-equipment</em> come from the scripted offline provider and are never a model's result.
Metrics: docs/metrics.md. Same data as <a href="leaderboard.csv">leaderboard.csv</a>.</p>
<table><thead><tr>{head}</tr></thead><tbody>
{body}
</tbody></table></body></html>
"""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path
