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
from sweboard.harness import (AMBIGUOUS, ENVIRONMENT, VERDICT_KEYS, error_class, evaluator_command, instance_log_dir,
                              read_tiers, read_verdicts, run_harness)
from sweboard.records import VERDICT, atomic_json, read_verdict, verdict_conflicts, write_regrade, write_verdict
from sweboard.regrade import gradings, settle
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
                 images: dict, cfg: dict, executor=None, cpu_guard: bool = True, log=None, regrade: int = 0) -> dict:
    """One harness run over `group` (one attempt index); each graded attempt's verdict written (or, with
    `regrade` n >= 1, its n-th independent regrading, `verdict.regrade-<n>.json`). An attempt whose grading
    swebench classes as the environment's failure gets no verdict: it stays pending, never the model's."""
    run = _run_harness_on(run_id, model_id, group, dataset, split, workers, timeout, cfg, executor, cpu_guard, log,
                          near=None if regrade else _attempt_node(group[0][2]))
    ids = [iid for iid, _, _, _ in group]
    verdicts, report = read_verdicts(run["workdir"], model_id, run["eval_id"], ids)
    tiers = read_tiers(run["workdir"], model_id, run["eval_id"], ids)
    out, ungraded = {}, {}
    for iid, k, attempt_dir, patch in group:
        record, why_not = _verdict_record(run_id, run, report, iid, k, patch, verdicts.get(iid), tiers.get(iid),
                                          images, swebench_version)
        if record is None:
            ungraded[iid] = why_not
            continue
        out[(iid, k)] = write_regrade(attempt_dir, regrade, record) if regrade else write_verdict(attempt_dir, record)
    rel = lambda p: str(p.relative_to(run_dir(run_id)))  # noqa: E731
    invocation = {"evaluator_run_id": run["eval_id"], "command": shlex.join(run["cmd"]), "exit_code": run["code"],
                  "wall_seconds": round(run["seconds"], 2), "started": round(run["began"], 3), "in_batch": in_batch,
                  "regrade": regrade, "finished_at": utc_now(),
                  "log": rel(run["workdir"] / "evaluator.log"), "report": rel(report) if report else None,
                  "attempts": {f"{iid}#{k}": ("graded" if (iid, k) in out else ungraded.get(iid, "not graded"))
                               for iid, k, _, _ in group},
                  "failed": bool(ungraded) or run["code"] != 0}
    atomic_json(run["workdir"] / INVOCATION, invocation)
    return out


def _run_harness_on(run_id, model_id, group, dataset, split, workers, timeout, cfg, executor, cpu_guard, log,
                    near) -> dict:
    """The harness, once, on the group's predictions, in a fresh folder with a fresh evaluator run id."""
    workdir, eval_id = new_eval_dir(run_id, model_id)
    preds = workdir / "predictions.jsonl"
    preds.write_text("".join(json.dumps({"instance_id": iid, "model_name_or_path": model_id, "model_patch": patch,
                                         "attempt": k}) + "\n" for iid, k, _, patch in group))
    cmd = evaluator_command(dataset, split, preds, eval_id, [iid for iid, _, _, _ in group], workers, timeout)
    if executor is None or executor.guards_cpu:
        # the run's settings, already read by the caller; the canary's gradings skip the CPU guardrail
        with capacity_for(cfg).evaluation(log=log, cpu_guard=cpu_guard):  # a wait says what it waits on
            code, seconds, node = (executor.run_harness(cmd, workdir) if executor is not None
                                   else (*run_harness(cmd, workdir), None))
    else:  # on a worker node: its eval_slot resource is the cap there
        code, seconds, node = executor.run_harness(cmd, workdir, near=near)
    return {"workdir": workdir, "eval_id": eval_id, "model_id": model_id, "cmd": cmd, "code": code, "seconds": seconds,
            "node": node,
            "began": time.time() - seconds}  # when the harness started (epoch seconds): for figures of overlap


def _verdict_record(run_id, run, report, iid, k, patch, verdict, tier, images, swebench_version):
    """(the verdict record, None) or (None, why the attempt has no verdict from this harness run)."""
    d = instance_log_dir(run["workdir"], run["eval_id"], run["model_id"], iid)
    cls = error_class(d) if verdict == "error" else ""
    if verdict is None or (verdict == "error" and cls not in EVAL_MODEL_ERRORS):
        # not the patch's doing: the harness crashed, skipped it, or hit trouble of its own
        return None, "not in the evaluator's report" if verdict is None else f"evaluator error ({cls})"
    if tier and tier[0] == ENVIRONMENT and verdict != "resolved":
        return None, f"evaluator infrastructure ({tier[1] or 'environment'}): graded again later"
    rel = lambda p: str(p.relative_to(run_dir(run_id)))  # noqa: E731
    return {
        "instance_id": iid, "attempt": k, "verdict": verdict, "error_class": cls,
        "patch_sha256": hashlib.sha256(patch.encode()).hexdigest(), "image_id": images.get(iid),
        "evaluator": {"package": "swebench", "version": swebench_version, "run_id": run["eval_id"],
                      "command": shlex.join(run["cmd"]), "exit_code": run["code"]},
        "wall_seconds": round(run["seconds"], 2), "evaluated_at": utc_now(), "workdir": rel(run["workdir"]),
        "node": run["node"],  # where the harness ran
        **({"infra_ambiguous": tier[1] or "ambiguous"} if tier and tier[0] == AMBIGUOUS else {}),
        "report": rel(report) if report else None,
        "instance_report": rel(d / "report.json") if (d / "report.json").is_file() else None,
        "test_output": rel(d / "test_output.txt") if (d / "test_output.txt").is_file() else None,
        "instance_log": rel(d / "run_instance.log") if (d / "run_instance.log").is_file() else None,
    }, ""


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
            grades = gradings(run_dir(run_id), d)
            v, flipped = settle(grades)
            if not grades:
                if needs_grading(a):
                    pending.add(f"{iid}#{a['attempt']}")
                continue
            shown = v or grades[0]  # an open flip shows its first grading's files, with no verdict
            instances[iid].append({**{k: shown.get(k) for k in ("attempt", "error_class", "instance_report",
                                                                 "test_output", "instance_log", "reused_from")},
                                   "verdict": v.get("verdict") if v else None,
                                   "gradings": [g.get("verdict") for g in grades],
                                   **({"grader_flip": True} if flipped else {}),
                                   **({"infra_ambiguous": shown["infra_ambiguous"]}
                                      if shown.get("infra_ambiguous") else {})})
            if flipped and v is None:
                pending.add(f"{iid}#{a['attempt']}")
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
            if x["verdict"]:
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
        "grader_flips": sorted(f"{iid}#{x['attempt']}" for iid, vs in instances.items() for x in vs if x.get("grader_flip")),
        "instances": instances,
    }


def regrade_attempts(run_id: str, model_id: str, executor, workers: int | None = None, timeout: int | None = None,
                     log=print, rounds: int = 2) -> int:
    """Grade again, independently, what the row's regrade mode picks (regrade.py); a flip gets its third
    grading in the next round. Returns how many regradings ran."""
    from sweboard.regrade import mode_for, next_regrade

    manifest = read_manifest(run_id)
    cfg = manifest["runner_config"]
    mode = mode_for(cfg, manifest["batches"][model_id].get("kind", "model"))
    share = float(cfg.get("evaluation_regrade_sample", 0.1))
    dataset, done = run_dir(run_id) / manifest["dataset_file"], 0
    for _ in range(rounds):
        todo: dict[tuple[int, int], list] = {}
        for iid, k, attempt_dir, patch in graded_attempts(run_id, model_id, manifest):
            n = next_regrade(run_id, model_id, iid, k, attempt_dir, mode, share)
            if n:
                todo.setdefault((n, k), []).append((iid, k, attempt_dir, patch))
        if not todo:
            break
        if executor.name == "local":
            from sweboard.dockerutil import require_engine

            require_engine()
        images = _image_ids(dataset, {item[0] for group in todo.values() for item in group})
        for (n, _), group in sorted(todo.items()):
            _grade_group(run_id, model_id, group, dataset, manifest["slice"]["split"], _workers(cfg, workers),
                         timeout or cfg["evaluator_timeout_seconds"], version("swebench"), False, images, cfg, executor,
                         cpu_guard=manifest.get("kind") != "canary", log=log, regrade=n)
            done += len(group)
    if done:
        log(f"{model_id}: {done} attempt(s) graded again, independently (evaluation_regrade {mode})")
    return done


def graded_attempts(run_id: str, model_id: str, manifest: dict) -> list[tuple[str, int, Path, str]]:
    """(instance, attempt, folder, patch) of every attempt that has a verdict."""
    items = []
    for iid, attempts in manifest["batches"][model_id].get("attempts", {}).items():
        for a in attempts:
            d = run_dir(run_id) / Path(a["record"]).parent
            if read_verdict(d) is not None:
                items.append((iid, a["attempt"], d, json.loads((d / "record.json").read_text())["patch"]))
    return items


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
    regraded = regrade_attempts(run_id, model_id, executor, workers, timeout, log)
    entry = evaluation_entry(run_id, model_id)
    entry["peak_cpu_percent"] = stats.get("peak_cpu_percent")
    entry["regraded_now"] = regraded
    update_manifest(run_id, lambda m: m["evaluations"].__setitem__(model_id, entry))
    c = entry["counts"]
    log(f"{model_id}: {c['resolved']} resolved, {c['unresolved']} unresolved, {c['empty_patch']} empty, "
        f"{c['error']} patch errors ({len(items)} attempts sent now, {entry['wall_seconds']:.1f}s in the evaluator)"
        + (f"; NOT GRADED: {', '.join(entry['pending'])} -- {entry['status']}" if entry["pending"] else ""))
    return entry
