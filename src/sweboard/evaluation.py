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

import hashlib
import json
import os
import shlex
import time
from contextlib import ExitStack
from importlib.metadata import version
from pathlib import Path

from sweboard.errors import SweboardError
from sweboard.locks import file_lock
from sweboard.slots import capacity_for
from sweboard.outcomes import EVAL_MODEL_ERRORS, needs_grading
from sweboard.harness import (VERDICT_KEYS, error_class, evaluator_command, instance_log_dir, read_verdicts,
                              run_harness)
from sweboard.records import VERDICT, atomic_json, read_verdict, verdict_conflicts, write_verdict
from sweboard.manifest import read_manifest, require_manifest, run_dir, sampled_cpu, update_manifest, utc_now


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
    """Evaluator workers: as asked (or configured). Each worker mostly waits on Docker; the CPU
    guardrail holds back new invocations on a busy machine (`slots.py`)."""
    return max(1, requested or cfg["evaluator_workers"])


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



INVOCATION = "invocation.json"


def evaluate_attempts(run_id: str, model_id: str, items: list[tuple[str, int, Path, str]],
                      workers: int | None = None, timeout: int | None = None,
                      in_batch: bool = False, executor=None, log=None) -> dict[tuple[str, int], dict]:
    """Grade attempts. items: (instance_id, attempt index, attempt dir, patch). Writes each verdict.json.

    One evaluation per (model, task) at a time (a file lock per task, taken in sorted order): a
    second caller waits, then grades only what is still without a verdict; different tasks grade
    at once, within the evaluator slots and the CPU guardrail (`slots.py`). Returns the verdicts written; an attempt the evaluator did
    not grade (it crashed, never reached it, or failed for reasons of its own) gets none and
    stays pending, and its harness run is recorded as failed in that folder's invocation.json.
    `in_batch` marks grading done inside a batch, whose seconds are already in the batch's wall time.
    `executor` says where the harness runs (`executors/`: here by default, or on the Ray node the
    attempt ran on).
    """
    manifest = read_manifest(run_id)
    cfg = manifest["runner_config"]
    workers = _workers(cfg, workers)
    timeout = timeout or cfg["evaluator_timeout_seconds"]
    dataset = run_dir(run_id) / manifest["dataset_file"]
    swebench_version = version("swebench")
    out: dict[tuple[str, int], dict] = {}
    base = run_dir(run_id) / "evaluation" / _slug(model_id)
    with ExitStack() as locks:
        for iid in sorted({item[0] for item in items}):
            locks.enter_context(file_lock(base / f".lock-{iid}"))
        items = [item for item in items if read_verdict(item[2]) is None]
        by_index: dict[int, list] = {}
        for item in items:
            by_index.setdefault(item[1], []).append(item)
        images = _image_ids(dataset, {item[0] for item in items})
        for k, group in sorted(by_index.items()):
            group = _reuse_known(run_id, group, images, swebench_version, out)
            if group:
                out.update(_grade_group(run_id, model_id, group, dataset, manifest["slice"]["split"], workers,
                                        timeout, swebench_version, in_batch, images, cfg, executor,
                                        cpu_guard=manifest.get("kind") != "canary", log=log))
    return out


def leftover_containers(run_id: str, model_id: str) -> list[str]:
    """The official harness's containers that a killed grading of this model left: for every harness run
    that never recorded its end (no invocation.json), the name it gives each of its tasks' containers
    (`sweb.eval.<instance>.<evaluator run id>`), when no grading of that task is under way now (its lock
    is free). The harness's containers carry no label of ours: these names are the only handle."""
    import fcntl

    from sweboard.locks import open_private

    base = run_dir(run_id) / "evaluation" / _slug(model_id)
    names = []
    for workdir in sorted(base.glob("e*")):
        if not workdir.is_dir() or (workdir / INVOCATION).exists() or not (workdir / "predictions.jsonl").is_file():
            continue
        eval_id = f"{run_id}.{_slug(model_id)}.{workdir.name}"
        for line in (workdir / "predictions.jsonl").read_text().splitlines():
            try:
                iid = json.loads(line)["instance_id"]
            except (ValueError, KeyError, TypeError):
                continue
            fd = open_private(base / f".lock-{iid}")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_UN)
            except BlockingIOError:
                continue  # being graded right now
            finally:
                os.close(fd)
            names.append(f"sweb.eval.{str(iid).lower()}.{eval_id}")
    return names


def _image_ids(dataset: Path, instance_ids: set[str]) -> dict[str, str | None]:
    """The local image id behind each instance's image name (part of what makes two gradings the same)."""
    from sweboard.dockerutil import image_id

    names = {}
    for line in dataset.read_text().splitlines():
        row = json.loads(line)
        if row["instance_id"] in instance_ids:
            names[row["instance_id"]] = row.get("image")
    return {iid: image_id(image) if image else None for iid, image in names.items()}


def _grading_key(iid: str, patch_sha: str, image_id: str | None, version: str) -> tuple:
    return (iid, patch_sha, image_id, version)


# Verdicts that depend on the patch alone. A `test_timeout` depends on the machine's load at the
# time, and an evaluator error on the evaluator: those attempts are always graded afresh.
REUSABLE_ERRORS = frozenset({"malformed_patch", "patch_apply_failed", "path_not_found"})


def reusable(verdict: dict) -> bool:
    return verdict.get("verdict") in ("resolved", "unresolved", "empty_patch") or (
        verdict.get("verdict") == "error" and verdict.get("error_class") in REUSABLE_ERRORS)


def _reuse_known(run_id: str, group: list, images: dict, version: str, out: dict) -> list:
    """Grade each distinct patch once per run: an attempt whose (instance, patch sha256, image id,
    evaluator version) was already graded in this run gets that verdict, recorded as reused (identical
    wrong patches at temperature 0 are common) and counted on the board (`verdicts_reused`). Only
    verdicts of the patch alone are reused (`reusable`). Returns the attempts still to grade."""
    known = {}
    for path in (run_dir(run_id) / "attempts").glob("*/*/attempt-*/" + VERDICT):
        v = read_verdict(path.parent)
        if v and v.get("patch_sha256") and not v.get("reused_from") and reusable(v):
            key = _grading_key(v["instance_id"], v["patch_sha256"], v.get("image_id"), v["evaluator"]["version"])
            known.setdefault(key, (path, v))
    todo = []
    for iid, k, attempt_dir, patch in group:
        sha = hashlib.sha256(patch.encode()).hexdigest()
        hit = known.get(_grading_key(iid, sha, images.get(iid), version)) if images.get(iid) else None
        if hit is None:
            todo.append((iid, k, attempt_dir, patch))
            continue
        source, v = hit
        reused = {**v, "attempt": k, "reused_from": str(source.relative_to(run_dir(run_id))), "evaluated_at": utc_now(),
                  "wall_seconds": 0.0}
        out[(iid, k)] = write_verdict(attempt_dir, reused)
    return todo


def _grade_group(run_id, model_id, group, dataset, split, workers, timeout, swebench_version, in_batch,
                 images: dict, cfg: dict, executor=None, cpu_guard: bool = True, log=None) -> dict:
    workdir, eval_id = new_eval_dir(run_id, model_id)
    preds = workdir / "predictions.jsonl"
    preds.write_text("".join(json.dumps({"instance_id": iid, "model_name_or_path": model_id, "model_patch": patch,
                                         "attempt": k}) + "\n" for iid, k, _, patch in group))
    ids = [iid for iid, _, _, _ in group]
    cmd = evaluator_command(dataset, split, preds, eval_id, ids, workers, timeout)
    if executor is None or executor.guards_cpu:
        # the run's settings, already read by the caller; the canary's gradings skip the CPU guardrail
        with capacity_for(cfg).evaluation(log=log, cpu_guard=cpu_guard):  # a wait says what it waits on
            code, seconds, node = (executor.run_harness(cmd, workdir) if executor is not None
                                   else (*run_harness(cmd, workdir), None))
    else:  # on a worker node: its eval_slot resource is the cap there
        code, seconds, node = executor.run_harness(cmd, workdir, near=_attempt_node(group[0][2]))
    began = time.time() - seconds  # when the harness started (epoch seconds): for figures of overlap
    verdicts, report = read_verdicts(workdir, model_id, eval_id, ids)
    rel = lambda p: str(p.relative_to(run_dir(run_id)))  # noqa: E731
    out, ungraded = {}, {}
    for iid, k, attempt_dir, patch in group:
        d = instance_log_dir(workdir, eval_id, model_id, iid)
        verdict = verdicts.get(iid)
        cls = error_class(d) if verdict == "error" else ""
        if verdict is None or (verdict == "error" and cls not in EVAL_MODEL_ERRORS):
            # not the patch's doing: the harness crashed, skipped it, or hit trouble of its own
            ungraded[iid] = "not in the evaluator's report" if verdict is None else f"evaluator error ({cls})"
            continue
        record = {
            "instance_id": iid, "attempt": k, "verdict": verdict, "error_class": cls,
            "patch_sha256": hashlib.sha256(patch.encode()).hexdigest(), "image_id": images.get(iid),
            "evaluator": {"package": "swebench", "version": swebench_version, "run_id": eval_id,
                          "command": shlex.join(cmd), "exit_code": code},
            "wall_seconds": round(seconds, 2), "evaluated_at": utc_now(), "workdir": rel(workdir),
            "node": node,  # where the harness ran
            "report": rel(report) if report else None,
            "instance_report": rel(d / "report.json") if (d / "report.json").is_file() else None,
            "test_output": rel(d / "test_output.txt") if (d / "test_output.txt").is_file() else None,
            "instance_log": rel(d / "run_instance.log") if (d / "run_instance.log").is_file() else None,
        }
        out[(iid, k)] = write_verdict(attempt_dir, record)
    invocation = {"evaluator_run_id": eval_id, "command": shlex.join(cmd), "exit_code": code,
                  "wall_seconds": round(seconds, 2), "started": round(began, 3), "in_batch": in_batch,
                  "finished_at": utc_now(),
                  "log": rel(workdir / "evaluator.log"), "report": rel(report) if report else None,
                  "attempts": {f"{iid}#{k}": ("graded" if (iid, k) in out else ungraded.get(iid, "not graded"))
                               for iid, k, _, _ in group},
                  "failed": bool(ungraded) or code != 0}
    atomic_json(workdir / INVOCATION, invocation)
    return out


def _attempt_node(attempt_dir: Path) -> dict | None:
    """Where an attempt ran (its record's `node`): its grading goes there when it can."""
    try:
        return json.loads((attempt_dir / "record.json").read_text()).get("node")
    except (OSError, ValueError):
        return None



def invocations(run_id: str, model_id: str) -> list[dict]:
    """Every harness run for a model, as recorded in its folder (including runs that graded nothing)."""
    base = run_dir(run_id) / "evaluation" / _slug(model_id)
    out = []
    for path in sorted(base.glob(f"e*/{INVOCATION}"), key=lambda p: int(p.parent.name[1:])):
        try:
            out.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    return out


def evaluation_entry(run_id: str, model_id: str) -> dict:
    """The manifest's view of a model's grading: per task, every attempt's verdict; harness runs; failures.

    A harness run counts as failed while an attempt it was given is still without a verdict;
    a later run that grades it clears the failure (the failed run stays recorded)."""
    manifest = read_manifest(run_id)
    batch = manifest["batches"][model_id]
    instances: dict[str, list[dict]] = {}
    conflicts = []
    pending = set()
    for iid, attempts in batch.get("attempts", {}).items():
        instances[iid] = []
        for a in attempts:
            d = run_dir(run_id) / Path(a["record"]).parent
            v = read_verdict(d)
            if v is None:
                if needs_grading(a):
                    pending.add(f"{iid}#{a['attempt']}")
                continue
            instances[iid].append({k: v.get(k) for k in ("attempt", "verdict", "error_class", "instance_report",
                                                          "test_output", "instance_log", "reused_from")})
            if verdict_conflicts(d):
                instances[iid][-1]["verdict_conflict"] = verdict_conflicts(d)
                conflicts.append(f"{iid}#{a['attempt']}")
    harness_runs = {}
    failures = []
    for inv in invocations(run_id, model_id):
        harness_runs[inv["evaluator_run_id"]] = {k: inv.get(k) for k in ("exit_code", "wall_seconds", "in_batch",
                                                                          "log", "command")}
        still = sorted(a for a in inv["attempts"] if a in pending)
        if still:
            failures.append({"evaluator_run_id": inv["evaluator_run_id"], "exit_code": inv["exit_code"],
                             "log": inv["log"], "ungraded": still})
    counts = {v: 0 for _, v in VERDICT_KEYS}
    for vs in instances.values():
        for x in vs:
            counts[x["verdict"]] = counts.get(x["verdict"], 0) + 1
    status = "ok"
    if failures:
        status = f"evaluator failed ({failures[-1]['log']})"
    elif pending:
        status = "incomplete"
    return {
        "status": status,
        "evaluator": {"package": "swebench", "version": version("swebench")},
        "harness_runs": harness_runs,
        "failures": failures,
        "pending": sorted(pending),
        "verdict_conflicts": conflicts,
        "wall_seconds": round(sum(r["wall_seconds"] or 0 for r in harness_runs.values()), 2),
        "post_batch_wall_seconds": round(sum(r["wall_seconds"] or 0 for r in harness_runs.values()
                                             if not r.get("in_batch")), 2),
        "counts": counts,
        "reused": sum(1 for vs in instances.values() for x in vs if x.get("reused_from")),
        "instances": instances,
    }


def pending_attempts(run_id: str, model_id: str) -> list[tuple[str, int, Path, str]]:
    """Attempts that need the evaluator's word and lack it (agent failures are never graded)."""
    manifest = read_manifest(run_id)
    items = []
    for iid, attempts in manifest["batches"][model_id].get("attempts", {}).items():
        for a in attempts:
            d = run_dir(run_id) / Path(a["record"]).parent
            if needs_grading(a) and read_verdict(d) is None:
                record = json.loads((d / "record.json").read_text())
                items.append((iid, a["attempt"], d, record["patch"]))
    return items


def evaluate(run_id: str, model_id: str, executor, workers: int | None = None, timeout: int | None = None,
             log=print) -> dict:
    """Grade every recorded attempt of a model that has no verdict yet, where `executor` runs the harness
    (`executors/`: the caller's, here or on a cluster); record the totals in the manifest."""
    manifest = require_manifest(run_id)
    if manifest.get("status") == "finished":
        raise SweboardError(f"run {run_id} is finished and immutable")
    if model_id not in manifest["batches"]:
        raise SweboardError(f"run {run_id}: no batch for model {model_id!r}; batches: {sorted(manifest['batches'])}")
    items = pending_attempts(run_id, model_id)
    stats: dict = {}
    if items:
        if executor.name == "local":
            from sweboard.dockerutil import require_engine

            require_engine()
        executor.reap_named(leftover_containers(run_id, model_id))  # a killed grading's containers
        with sampled_cpu(stats):
            evaluate_attempts(run_id, model_id, items, workers, timeout, executor=executor, log=log)
    entry = evaluation_entry(run_id, model_id)
    entry["peak_cpu_percent"] = stats.get("peak_cpu_percent")
    update_manifest(run_id, lambda m: m["evaluations"].__setitem__(model_id, entry))
    c = entry["counts"]
    log(f"{model_id}: {c['resolved']} resolved, {c['unresolved']} unresolved, {c['empty_patch']} empty, "
        f"{c['error']} patch errors ({len(items)} attempts sent now, {entry['wall_seconds']:.1f}s in the evaluator)"
        + (f"; NOT GRADED: {', '.join(entry['pending'])} -- {entry['status']}" if entry["pending"] else ""))
    return entry
