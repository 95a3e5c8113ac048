"""What a benchmark-size run costs the controller: the scheduler, one batch process per model, each
with its gateway and ledger, records, the manifest, finish and the fold, with attempts that take no
time (test equipment: a synthetic task set whose attempts need no container and no provider wait).

Why: the agent and the evaluator dominate a real run's wall time, so a cost that grows with the
run (a manifest rewritten whole per update, a fold that re-reads everything) hides until a
Lite-size run (300 tasks x 10 models x K = 3 = 9,000 attempts) or a Verified one (30,000). This
goes the way `run_models.py` does: one validated request (`sweboard.request`), `launch.run_models`
and its scheduler starting one batch process per model under one slot pool, each batch the real
`launch.run_one_batch` (lock, rows, `batch.run_batch`: attempt scheduler, gateway on 127.0.0.1,
ledger, records, manifest updates); only the runner differs (`scale_batch.OneCallRunner`: one
call through the attempt's gateway route to the scripted provider, then a one-line patch). The
verdicts are then written as the evaluation writes them, with one manifest update per model
(instant grading: no harness runs), the run is finished (`finish`) and the board folded (`fold`:
CSV, breakdowns, pairwise, the page, every attempt's page).

It prints the controller's CPU seconds per attempt (this process and every batch process, their
Docker CLI calls included; the scripted provider's own CPU is test equipment and counted apart),
the manifest's size and the cost of one rewrite, the finish and fold times, and last
`scale_ratio=<per-attempt cost at the largest size / at the smallest>`: 1.0 means no term grows
faster than the run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

MODELS = 10
K = 3
COMMIT = "5ca1e" + "0" * 35  # the synthetic dataset's pinned revision (an HF cache made here)
REPO = "bench/synthetic"
RUN_PARTS = ("run", "slice", "models", "settings", "jobs")


def _cpu() -> float:
    """This process's CPU seconds plus those of the children it has waited for (the batches)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _rows(n_tasks: int) -> list[dict]:
    return [{"instance_id": f"org{i % 20}__repo{i % 20}-{i}", "repo": f"org{i % 20}/repo{i % 20}",
             "base_commit": "0" * 40, "patch": "diff --git a/x b/x\n", "test_patch": "",
             "problem_statement": f"synthetic task {i}", "FAIL_TO_PASS": "[]", "PASS_TO_PASS": "[]",
             "version": "1", "environment_setup_commit": "0" * 40, "hints_text": "",
             "created_at": "", "image": "none", "eval_script": "", "log_parser": "pytest",
             "eval_type": "pytest"} for i in range(n_tasks)]


def _home(work: Path, config: Path, rows: list[dict], models: list[str]) -> Path:
    """A scratch home: the project's config plus the synthetic slice, its lock (through the HF cache
    `main` made, one dataset per size) and the benchmark's models (scripted provider, test equipment).
    Returns the slice file."""
    from sweboard.dataset_lock import create_lock, write_lock

    shutil.copytree(config, work / "config")
    for d in ("runs", "predictions", "secrets"):
        (work / d).mkdir()
    repo = f"{REPO}-{len(rows)}"
    repo_dir = Path(os.environ["HF_HUB_CACHE"]) / f"datasets--{repo.replace('/', '--')}"
    (repo_dir / "snapshots" / COMMIT / "data").mkdir(parents=True)
    (repo_dir / "snapshots" / COMMIT / "data" / "dev-00000-of-00001.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows))
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(COMMIT)
    write_lock(create_lock(work / "config" / "dataset.scale.lock", repo, COMMIT))
    slice_file = work / "config" / "instances_scale.yaml"
    slice_file.write_text(yaml.safe_dump({"scale": {
        "dataset_lock": "config/dataset.scale.lock", "split": "dev",
        "instances": [{"id": r["instance_id"], "why": "synthetic (test equipment)"} for r in rows]}}))
    catalog_file = work / "config" / "model_catalog.yaml"
    catalog = yaml.safe_load(catalog_file.read_text())
    catalog["models"] += [{"id": m, "provider": "scripted", "served_as": "scripted/empty",
                           "served_as_reason": "benchmark_scale's instant attempts (test equipment)",
                           "price_per_1k_input": 0.0005, "price_per_1k_output": 0.0015,
                           "price_source": "test prices of the scripted provider", "enabled": True} for m in models]
    catalog_file.write_text(yaml.safe_dump(catalog, sort_keys=False))
    return slice_file


class _Provider:
    """The scripted provider as a process of its own (its CPU is test equipment, not the controller's)."""

    def __init__(self, work: Path):
        port_file = work / "provider.port"
        self.proc = subprocess.Popen([sys.executable, "-I", "-m", "sweboard.testbench.provider", "--port-file",
                                      str(port_file), "--max-seconds", "7200"], cwd=work,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the scripted provider did not start")
            time.sleep(0.05)
        self.base_url = f"http://127.0.0.1:{int(port_file.read_text())}/v1"

    def cpu(self) -> float:
        """Its CPU seconds so far, from /proc (it has not been waited for, so RUSAGE_CHILDREN lacks it)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _child_argv(checked, model_id: str) -> list[str]:
    """run_model_batch.py's command for this model, with the benchmark's child in place of the tool."""
    from sweboard.launch import batch_command

    cmd = batch_command(checked, model_id)
    return [*cmd[:2], "-m", "sweboard.benchmarks.scale_batch", *cmd[3:]]


def _run_models(run_id: str, slice_file: Path, models: list[str], k: int, jobs: int) -> int:
    """What run_models.py does: one request through the one validation, the claim, the batches."""
    from sweboard import launch
    from sweboard.request import add_arguments, claim, from_args, validate

    p = argparse.ArgumentParser(prog="run_models.py")
    add_arguments(p, *RUN_PARTS)
    argv = ["--run-id", run_id, "--instances", str(slice_file), "--section", "scale", "--attempts", str(k),
            "--all-attempts", "--jobs", str(jobs), "--set", "cpu_ceiling_percent=100", "--set", "runner=mini"]
    for m in models:
        argv += ["--model", m]
    run = validate(from_args("run_models.py", p.parse_args(argv), *RUN_PARTS, calls_models=True))
    claim(run)
    return launch.run_models(run, log=lambda *a: None, batch_argv=_child_argv)


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


def one_size(attempts: int, work: Path, config: Path, models: int = MODELS, k: int = K, jobs: int = 8) -> dict:
    """Run `attempts` instant attempts (models x tasks x k) through the scheduler, the batches, the
    manifest, finish and fold, in the scratch home `work` (with a copy of the `config` folder)."""
    from sweboard.finish import finish
    from sweboard.fold import fold
    from sweboard.manifest import read_manifest, update_manifest, write_manifest

    n_tasks = max(1, attempts // (models * k))
    rows = _rows(n_tasks)
    ids = [r["instance_id"] for r in rows]
    names = [f"bench/model-{m}" for m in range(models)]
    slice_file = _home(work, config, rows, names)
    run_id = f"scale-{attempts}"
    provider = _Provider(work)
    os.environ["SWEBOARD_SCRIPTED_BASE_URL"] = provider.base_url
    try:
        began, cpu0 = time.monotonic(), _cpu()
        code = _run_models(run_id, slice_file, names, k, jobs)
        batches_s, batches_cpu, provider_cpu = time.monotonic() - began, _cpu() - cpu0, provider.cpu()
    finally:
        provider.stop()
    if code != 0:
        raise RuntimeError(f"the batches exited {code}")
    rng = random.Random(attempts)
    t = time.monotonic()
    for name in names:
        skill = rng.random()
        verdicts = {iid: [{"attempt": a, "verdict": "resolved" if rng.random() < skill else "unresolved",
                           "error_class": ""} for a in range(1, k + 1)] for iid in ids}
        _grade_instantly(run_id, name, verdicts)
        update_manifest(run_id, lambda m, name=name, verdicts=verdicts: m.setdefault("evaluations", {}).__setitem__(
            name, {"wall_seconds": 0.0, "post_batch_wall_seconds": 0.0, "failures": [], "instances": verdicts}))
    grading_s = time.monotonic() - t
    t = time.monotonic()
    finish(run_id, names, log=lambda *a: None)
    finish_s = time.monotonic() - t
    manifest_path = work / "runs" / run_id / "manifest.json"
    data = read_manifest(run_id)
    t = time.monotonic()
    for _ in range(3):
        write_manifest(run_id, data)
    write_s = (time.monotonic() - t) / 3
    t = time.monotonic()
    fold(None, [run_id], False, None)
    fold_s = time.monotonic() - t
    total = n_tasks * models * k
    page = work / "runs" / run_id / "leaderboard.html"
    calls = sum(1 for _ in (work / "runs" / run_id / "attempts").rglob("calls.jsonl"))
    return {"attempts": total, "tasks": n_tasks, "batches_s": batches_s, "grading_s": grading_s,
            "finish_s": finish_s, "manifest_bytes": manifest_path.stat().st_size, "manifest_write_s": write_s,
            "fold_s": fold_s, "page_bytes": page.stat().st_size if page.exists() else 0, "calls_files": calls,
            "batches_cpu_per_attempt": batches_cpu / total, "provider_cpu_per_attempt": provider_cpu / total,
            "controller_cpu_per_attempt": (_cpu() - cpu0) / total}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="benchmark_scale.py", description=(
        "The controller at benchmark size: instant attempts (test equipment) through the real scheduler, one "
        "batch process per model (gateway, ledger, records, manifest), finish and fold, at each --attempts size; prints CPU per attempt, the manifest's "
        "size and write cost, the fold's time, and scale_ratio (largest size / smallest, per attempt)."))
    p.add_argument("--attempts", type=int, action="append", help="sizes (repeatable; default 1000 and 9000)")
    p.add_argument("--dry-run", action="store_true", help="say what would run")
    args = p.parse_args(argv)
    sizes = sorted(args.attempts or [1000, 9000])
    if args.dry_run:
        print(f"would run {', '.join(map(str, sizes))} instant attempts ({MODELS} models x K={K}) in a scratch home")
        return 0
    from sweboard.paths import project_root

    config = project_root() / "config"
    results = []
    scratch = Path(tempfile.mkdtemp(prefix="sweboard-scale-"))
    saved = dict(os.environ)  # huggingface_hub reads its cache folder once, at import: set it first
    os.environ.update(HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(scratch / "hf"), HF_HOME=str(scratch / "hf-home"))
    try:
        for size in sizes:
            work = scratch / f"home-{size}"
            work.mkdir()
            os.environ["SWEBOARD_HOME"] = str(work)
            with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
                r = one_size(size, work, config)  # the batches' lines and the progress line: not the benchmark's
            shutil.rmtree(work, ignore_errors=True)
            results.append(_report(r))
    finally:
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(scratch, ignore_errors=True)
    ratio = results[-1]["controller_cpu_per_attempt"] / results[0]["controller_cpu_per_attempt"]
    print(f"scale_ratio={ratio:.2f}")
    return 0


def _report(r: dict) -> dict:
    """One size's line."""
    print(f"{r['attempts']:>6} attempts ({r['tasks']} tasks x {MODELS} models x K={K}, {r['calls_files']} attempts "
          f"with gateway calls): batches {r['batches_s']:.1f} s wall; controller CPU "
          f"{r['controller_cpu_per_attempt'] * 1000:.2f} ms/attempt (batches {r['batches_cpu_per_attempt'] * 1000:.2f}"
          f"; scripted provider apart: {r['provider_cpu_per_attempt'] * 1000:.2f}); manifest "
          f"{r['manifest_bytes'] / 1e6:.1f} MB, one rewrite {r['manifest_write_s']:.2f} s; grading writes "
          f"{r['grading_s']:.1f} s; finish {r['finish_s']:.1f} s; fold {r['fold_s']:.1f} s (page "
          f"{r['page_bytes'] / 1e6:.1f} MB, every attempt's page included)", flush=True)
    return r
