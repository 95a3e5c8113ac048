"""What a benchmark-size run costs the controller: batches, records, the manifest, finish and the fold,
with attempts that take no time (test equipment: a synthetic task set whose attempts need no
container and no provider).

Why: the agent and the evaluator dominate a real run's wall time, so a cost that grows with the
run (a manifest rewritten whole per update, a fold that re-reads everything) hides until a
Lite-size run (300 tasks x 10 models x K = 3 = 9,000 attempts) or a Verified one (30,000). This
runs the real batch code (`batch.run_batch`: its attempt scheduler, records, the manifest
updates), one model after another, then writes each model's verdicts with one manifest update
as the evaluation does (instant grading: test equipment), finishes the run (`finish`) and folds
the board (`fold`: CSV, breakdowns, pairwise, the page, every attempt's page). It prints the
controller's CPU seconds per attempt (this process and its children), the manifest's size and
the cost of one rewrite, the fold's time, and last `scale_ratio=<per-attempt cost at the largest
size / at the smallest>`: 1.0 means no term grows faster than the run.
What it leaves out, said so: the gateway and the provider (an instant attempt makes no call) and
the process-per-batch scheduler (`run_models.py` starts one `run_model_batch.py` per model; here
the batches run in this process, one after another).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import tempfile
import time
from pathlib import Path

MODELS = 10
K = 3


class InstantRunner:
    """Test equipment: every attempt submits a one-line patch at once; no container, no call."""

    name = "instant"
    metered = False
    needs_task_image = False

    def version(self) -> str | None:
        return None

    def run(self, attempt, api_key, secrets):
        from sweboard.runners.base import AttemptResult

        iid = attempt.row["instance_id"]
        return AttemptResult("submitted", "Submitted", f"diff --git a/{iid} b/{iid}\n", duration_seconds=0.0)


def _cpu() -> float:
    """This process's CPU seconds: the controller's own cost."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def _children_cpu() -> float:
    """CPU seconds of the processes it started (the Docker CLI asked for each attempt's node facts)."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


def _rows(n_tasks: int) -> list[dict]:
    return [{"instance_id": f"org{i % 20}__repo{i % 20}-{i}", "repo": f"org{i % 20}/repo{i % 20}", "image": "none",
             "base_commit": "0" * 40, "patch": "", "test_patch": "", "problem_statement": f"synthetic task {i}",
             "FAIL_TO_PASS": "[]", "PASS_TO_PASS": "[]", "version": "1", "environment_setup_commit": "0" * 40,
             "hints_text": "", "created_at": ""} for i in range(n_tasks)]


def _grade_instantly(run_id: str, model_id: str, verdicts: dict) -> None:
    """Each attempt's verdict.json, as the evaluation writes it (test equipment: no harness ran)."""
    from sweboard.manifest import read_manifest, run_dir
    from sweboard.records import write_verdict

    batch = read_manifest(run_id)["batches"][model_id]
    for iid, attempts in batch["attempts"].items():
        for a, v in zip(attempts, verdicts[iid]):
            write_verdict(run_dir(run_id) / Path(a["record"]).parent,
                          {"instance_id": iid, **v, "evaluator": {"package": "synthetic", "version": "0",
                                                                  "run_id": f"{run_id}.instant"}})


def one_size(attempts: int, workdir: Path, models: int = MODELS, k: int = K) -> dict:
    """Run `attempts` instant attempts (models x tasks x k) through batch, manifest, finish and fold."""
    from sweboard.batch import BatchPlan, run_batch
    from sweboard.dataset_lock import DatasetLock
    from sweboard.finish import finish
    from sweboard.fold import fold
    from sweboard.importing import imported_model
    from sweboard.instances import Slice
    from sweboard.manifest import read_manifest, update_manifest, write_manifest
    from sweboard.runconfig import load_runner_config

    n_tasks = max(1, attempts // (models * k))
    rows = _rows(n_tasks)
    ids = tuple(r["instance_id"] for r in rows)
    run_id = f"scale-{attempts}"
    lock_path = workdir / "config" / "dataset.offline.lock"
    sl = Slice(workdir / "config" / "instances_i1.yaml", "synthetic", lock_path, "dev", ids, {})
    lock = DatasetLock(lock_path, "bench/synthetic", "bundled", "s" * 40, "2026-12-02T00:00:00Z", {}, {"dev": n_tasks})
    config = load_runner_config(overrides={"attempts": k, "stop_after_resolved": "false", "runner": "mini"})
    rng = random.Random(attempts)
    names = [f"bench/model-{m}" for m in range(models)]
    began, cpu0, kids0 = time.monotonic(), _cpu(), _children_cpu()
    for name in names:
        run_batch(BatchPlan(run_id, imported_model(name), sl, lock, rows, config), InstantRunner(), log=lambda *a: None)
        skill = rng.random()
        verdicts = {iid: [{"attempt": a, "verdict": "resolved" if rng.random() < skill else "unresolved",
                           "error_class": ""} for a in range(1, k + 1)] for iid in ids}
        _grade_instantly(run_id, name, verdicts)
        update_manifest(run_id, lambda m, name=name, verdicts=verdicts: m.setdefault("evaluations", {}).__setitem__(
            name, {"wall_seconds": 0.0, "post_batch_wall_seconds": 0.0, "failures": [], "instances": verdicts}))
    batches_s, batches_cpu = time.monotonic() - began, _cpu() - cpu0
    (workdir / "runs" / run_id / "dataset.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    t, c = time.monotonic(), _cpu()
    finish(run_id, names, log=lambda *a: None)
    finish_s = time.monotonic() - t
    manifest_path = workdir / "runs" / run_id / "manifest.json"
    data = read_manifest(run_id)
    t = time.monotonic()
    for _ in range(3):
        write_manifest(run_id, data)
    write_s = (time.monotonic() - t) / 3
    t = time.monotonic()
    fold(None, [run_id], False, None)
    fold_s = time.monotonic() - t
    total_cpu = _cpu() - cpu0
    page = workdir / "runs" / run_id / "leaderboard.html"
    return {"attempts": n_tasks * models * k, "tasks": n_tasks, "batches_s": batches_s, "batches_cpu": batches_cpu,
            "finish_s": finish_s, "manifest_bytes": manifest_path.stat().st_size, "manifest_write_s": write_s,
            "fold_s": fold_s, "page_bytes": page.stat().st_size if page.exists() else 0,
            "controller_cpu_per_attempt": total_cpu / (n_tasks * models * k), "fold_cpu": _cpu() - c,
            "children_cpu_per_attempt": (_children_cpu() - kids0) / (n_tasks * models * k)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="benchmark_scale.py", description=(
        "The controller at benchmark size: instant attempts (test equipment) through the real batch code, "
        "records, manifest, finish and fold, at each --attempts size; prints CPU per attempt, the manifest's "
        "size and write cost, the fold's time, and scale_ratio (largest size / smallest, per attempt)."))
    p.add_argument("--attempts", type=int, action="append", help="sizes (repeatable; default 1000 and 9000)")
    p.add_argument("--dry-run", action="store_true", help="say what would run")
    args = p.parse_args(argv)
    sizes = sorted(args.attempts or [1000, 9000])
    if args.dry_run:
        print(f"would run {', '.join(map(str, sizes))} instant attempts ({MODELS} models x K={K}) in a scratch home")
        return 0
    from sweboard.paths import project_root

    results = []
    for size in sizes:
        work = Path(tempfile.mkdtemp(prefix="sweboard-scale-"))
        try:
            shutil.copytree(project_root() / "config", work / "config")
            for d in ("runs", "predictions", "secrets"):
                (work / d).mkdir()
            old = os.environ.get("SWEBOARD_HOME")
            os.environ["SWEBOARD_HOME"] = str(work)
            try:
                r = one_size(size, work)
            finally:
                os.environ.pop("SWEBOARD_HOME") if old is None else os.environ.__setitem__("SWEBOARD_HOME", old)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        results.append(r)
        print(f"{r['attempts']:>6} attempts ({r['tasks']} tasks x {MODELS} models x K={K}): batches {r['batches_s']:.1f} s "
              f"wall, controller CPU {r['controller_cpu_per_attempt'] * 1000:.2f} ms/attempt (+ "
              f"{r['children_cpu_per_attempt'] * 1000:.1f} ms in the Docker CLI it starts); manifest "
              f"{r['manifest_bytes'] / 1e6:.1f} MB, one rewrite {r['manifest_write_s']:.2f} s; finish {r['finish_s']:.1f} s; "
              f"fold {r['fold_s']:.1f} s (page {r['page_bytes'] / 1e6:.1f} MB, every attempt's page included)", flush=True)
    ratio = results[-1]["controller_cpu_per_attempt"] / results[0]["controller_cpu_per_attempt"]
    print(f"scale_ratio={ratio:.2f}")
    return 0
