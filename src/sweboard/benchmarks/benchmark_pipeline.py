"""The pipeline under a latency-bound provider: jobs=1 against jobs=N, the lower bound, and the peer.

Prints numbers; asserts nothing (targets live here, not in timed tests). One invocation, back to
back on this machine:

1. The i1 offline models (K attempts, stop at the first resolved) against the scripted provider
   answering every call after at least `latency` seconds, in a scratch SWEBOARD_HOME: once with
   `--jobs 1` (the models one after another, one attempt at a time: the serial reference) and once
   with `--jobs N`. Each: `run_models.py`, then the official evaluator for what is left, then
   `finish_run.py`. Same verdicts for the deterministic models, or the benchmark says so.
2. The lower bound from the jobs=N run's own records: no schedule can beat the longest task chain
   (a task's attempts run in order; their agent seconds), nor the provider's total agent seconds
   over its `max_concurrency`, nor all agent seconds over `jobs`. Start-up and grading count as
   the harness's time, so `ratio_to_bound` shows what the harness adds.
3. The peer: what a user would otherwise run, `mini-extra swebench` (one process, its own worker
   threads) and then `python -m swebench.harness.run_evaluation`, on the same tasks with the same
   scripted model and latency, against sweboard's `run_models.py` + evaluation of the same
   (one model, K=1). `ratio_to_peer` = sweboard's wall / the peer's.

Everything it starts binds 127.0.0.1 or runs with `--network none`, and is stopped by PID.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sweboard.manifest import CpuSampler
from sweboard.paths import PACKAGE_DIR
from sweboard.benchmarks import attempt_phases, grading_figures

ROOT = PACKAGE_DIR.parent.parent
TOOLS = ROOT / "tools"
PY = sys.executable
SLICE = "instances_i1.yaml"


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(round(q * (len(values) - 1))))], 2)


def _tool(env: dict, name: str, *args: str, log_path: Path) -> int:
    with log_path.open("a") as log:
        log.write(f"$ {name} {' '.join(args)}\n")
        log.flush()
        return subprocess.run([PY, str(TOOLS / name), *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL).returncode


class Provider:
    """The scripted provider (test equipment) as a child process on 127.0.0.1."""

    def __init__(self, home: Path, latency: float):
        self.port_file = home / "provider.port"
        self.proc = subprocess.Popen([PY, str(TOOLS / "scripted_provider.py"), "--port-file", str(self.port_file),
                                      "--max-seconds", "5400", "--min-latency", f"{latency}",
                                      "--rate-limit-failures", "3", "--retry-after", "1"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if self.port_file.is_file() and self.port_file.read_text().strip():
                break
            time.sleep(0.1)
        self.base_url = f"http://127.0.0.1:{self.port_file.read_text().strip()}/v1"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def scratch_home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="sweboard-bench-"))
    shutil.copytree(ROOT / "config", home / "config")
    for d in ("runs", "predictions", "secrets"):
        (home / d).mkdir()
    return home


def records(home: Path, run_id: str) -> list[dict]:
    out = []
    for path in sorted((home / "runs" / run_id / "attempts").glob("*/*/attempt-*/record.json")):
        if "." in path.parent.name:
            continue  # set aside (infrastructure / interrupted): not one of the run's attempts
        rec = json.loads(path.read_text())
        verdict = path.parent / "verdict.json"
        rec["_verdict"] = json.loads(verdict.read_text()) if verdict.is_file() else None
        rec["_dir"] = path.parent
        out.append(rec)
    return out


def pipeline(env: dict, home: Path, run_id: str, models: list[str], jobs: int, attempts: int, log_path: Path,
             runner: str | None = None) -> dict:
    """run_models + the official evaluator for the rest + finish_run; wall and CPU of the whole."""
    slice_args = ["--instances", str(home / "config" / SLICE), "--section", "offline",
                  *(["--runner", runner] if runner else [])]
    sampler = CpuSampler(interval=0.5).start()
    t0, began = time.monotonic(), time.time()
    code = _tool(env, "run_models.py", "--run-id", run_id, *slice_args, "--attempts", str(attempts), "--jobs", str(jobs),
                 *[a for m in models for a in ("--model", m)], log_path=log_path)
    agents = time.monotonic() - t0
    _tool(env, "run_evaluation.py", "--run-id", run_id, log_path=log_path)
    _tool(env, "finish_run.py", "--run-id", run_id, *[a for m in models for a in ("--expect-model", m)],
          log_path=log_path)
    wall = time.monotonic() - t0
    cpu = sampler.stop()
    return {"run_id": run_id, "jobs": jobs, "exit": code, "wall_s": round(wall, 1), "agents_s": round(agents, 1),
            "began_epoch": began,
            "peak_cpu": cpu["peak_cpu_percent"], "mean_cpu": cpu["mean_cpu_percent"]}


def attempt_figures(recs: list[dict]) -> dict:
    overhead = [r["overhead_seconds"] for r in recs if r.get("overhead_seconds") is not None]
    graded = [r["_verdict"] for r in recs if r["_verdict"] and not r["_verdict"].get("reused_from")]
    tests_s = []
    for r in recs:
        v = r["_verdict"]
        if v and not v.get("reused_from") and v.get("test_output"):
            tests_s.append(_tests_seconds(r["_dir"].parents[3] / v["test_output"]))
    tests_s = [t for t in tests_s if t is not None]
    return {"attempts": len(recs), "overhead_p50": _pct(overhead, 0.5), "overhead_p90": _pct(overhead, 0.9),
            "queued_p50": _pct([r.get("queued_seconds") or 0 for r in recs], 0.5),
            "graded": len(graded), "reused": sum(1 for r in recs if r["_verdict"] and r["_verdict"].get("reused_from")),
            "tests_s_per_graded": round(statistics.mean(tests_s), 2) if tests_s else None}


def _tests_seconds(path: Path) -> float | None:
    from sweboard.benchmarks.benchmark import _pytest_seconds

    return _pytest_seconds(path) if path.is_file() else None


def lower_bound(recs: list[dict], jobs: int, provider_cap: int) -> dict:
    """Agent seconds only (first model call to end): the longest task chain, the provider's share, the jobs' share.

    (A model whose provider never answers costs its failure streak's attempts side by side — the
    batch's probes widen to the streak — so its attempts are ordinary chains here.)"""
    chains: dict[tuple[str, str], float] = {}
    calling = 0.0
    for r in recs:
        chains[(r["model"], r["instance_id"])] = chains.get((r["model"], r["instance_id"]), 0.0) + r["duration_seconds"]
        if r["usage"]["model_calls"]:
            calling += r["duration_seconds"]
    total = sum(r["duration_seconds"] for r in recs)
    parts = {"longest_chain_s": round(max(chains.values(), default=0.0), 1),
             "provider_s_over_cap": round(calling / provider_cap, 1), "all_s_over_jobs": round(total / jobs, 1)}
    return {"bound_s": max(parts.values()), **parts}


def verdicts(recs: list[dict], models: set[str]) -> dict:
    return {(r["model"], r["instance_id"], r["attempt"]): (r["status"], (r["_verdict"] or {}).get("verdict"))
            for r in recs if r["model"] in models}


def peer(env: dict, home: Path, rows_file: Path, instance_ids: list[str], model: str, workers: int,
         log_path: Path) -> dict:
    """mini-extra swebench, then the official harness, exactly as a user would run them (test data adapted:
    mini reads `image_name`, the 5.x rows carry `image`)."""
    from sweboard.harness import evaluator_command

    work = home / "peer"
    data = work / "data"
    data.mkdir(parents=True)
    rows = [json.loads(line) for line in rows_file.read_text().splitlines() if line.strip()]
    rows = [dict(r, image_name=r["image"]) for r in rows if r["instance_id"] in instance_ids]
    (data / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    import yaml
    from minisweagent.config import builtin_config_dir

    config = yaml.safe_load((builtin_config_dir / "benchmarks" / "swebench.yaml").read_text())
    config["agent"].update(step_limit=30, cost_limit=0)
    config["environment"].update(run_args=["--rm", "--network", "none", "--pull", "never"], timeout=30)
    config["model"].update(model_name=f"openai/{model}", cost_tracking="ignore_errors",
                           model_kwargs={"api_base": env["SWEBOARD_SCRIPTED_BASE_URL"], "api_key": "sk-peer-bench",
                                         "temperature": 0, "drop_params": True})
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    peer_env = {**env, "MSWEA_GLOBAL_CONFIG_DIR": str(work / "mswea"), "MSWEA_SILENT_STARTUP": "1",
                "MSWEA_COST_TRACKING": "ignore_errors", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    mini_extra = Path(PY).with_name("mini-extra")
    t0 = time.monotonic()
    with log_path.open("a") as log:
        subprocess.run([str(mini_extra), "swebench", "--subset", str(data), "--split", "test", "-o", str(work / "out"),
                        "-w", str(workers), "-c", str(work / "config.yaml")], env=peer_env, stdout=log,
                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    agents = time.monotonic() - t0
    preds = json.loads((work / "out" / "preds.json").read_text())
    (work / "preds.jsonl").write_text("".join(json.dumps(p) + "\n" for p in preds.values()))
    cmd = evaluator_command(data / "test.jsonl", "test", work / "preds.jsonl", "peer", instance_ids, 4, 300)
    with log_path.open("a") as log:
        subprocess.run(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    wall = time.monotonic() - t0
    reports = list(work.glob("**/report.json"))
    resolved = sum(1 for p in reports for v in json.loads(p.read_text()).values() if v.get("resolved"))
    return {"wall_s": round(wall, 1), "agents_s": round(agents, 1), "eval_s": round(wall - agents, 1),
            "resolved": resolved, "of": len(instance_ids)}


def run(latency: float = 3.0, attempts: int = 2, jobs: int = 8, with_peer: bool = True, log=print,
        runner: str | None = None) -> dict:
    from sweboard.catalog import load_catalog
    from sweboard.instances import load_slice

    home = scratch_home()
    env = {**os.environ, "SWEBOARD_HOME": str(home), "SWEBOARD_CREDENTIALS": str(home / "secrets" / "credentials.txt")}
    for var in ("CHUTES_API_KEY", "OPENROUTER_API_KEY", "CHUTES_BASE_URL", "OPENROUTER_BASE_URL"):
        env.pop(var, None)
    log_path = home / "benchmark.log"
    provider = Provider(home, latency)
    env["SWEBOARD_SCRIPTED_BASE_URL"] = provider.base_url
    with_peer = with_peer and runner in (None, "mini")  # the peer is mini-extra: a like-for-like only for mini
    out: dict = {"home": str(home), "latency_s": latency, "attempts": attempts, "cores": os.cpu_count(),
                 "runner": runner or "mini",
                 "load_before": os.getloadavg()}
    try:
        listed = subprocess.run([PY, str(TOOLS / "plan_run.py"), "--iteration", "i1", "--instances",
                                 str(home / "config" / SLICE), "--attempts", str(attempts), "--offline",
                                 "--list-models"], env=env, capture_output=True, text=True, check=True)
        models = listed.stdout.split()
        os.environ["SWEBOARD_HOME"] = str(home)  # for the catalog and slice read here
        catalog = load_catalog()
        instance_ids = list(load_slice(home / "config" / SLICE, "offline").instance_ids)
        cap = catalog.get("scripted/solver").provider.max_concurrency
        log(f"workload: {len(models)} models x {len(instance_ids)} tasks, K={attempts}, provider answers after >= "
            f"{latency:g}s, {os.cpu_count()} cores, load {out['load_before'][0]:.2f}; log {log_path}")
        runs = {}
        for j in (1, jobs):
            log(f"pipeline jobs={j} ...")
            runs[j] = pipeline(env, home, f"bench-j{j}", models, j, attempts, log_path, runner)
            recs = records(home, runs[j]["run_id"])
            runs[j].update(attempt_figures(recs))
            runs[j].update(grading_figures.sweboard_grading(home / "runs" / runs[j]["run_id"]))
            if runner == "sweagent":
                runs[j]["startup_phases"] = attempt_phases.median_phases(recs)
            runs[j]["records"] = recs
            log(f"  jobs={j}: wall {runs[j]['wall_s']}s (agents {runs[j]['agents_s']}s), CPU peak {runs[j]['peak_cpu']}% "
                f"mean {runs[j]['mean_cpu']}%, overhead P50 {runs[j]['overhead_p50']}s P90 {runs[j]['overhead_p90']}s")
        deterministic = {m for m in models if catalog.get(m).is_baseline or m in
                         ("scripted/solver", "scripted/empty", "scripted/wrong", "scripted/ratelimited")}
        same = verdicts(runs[1]["records"], deterministic) == verdicts(runs[jobs]["records"], deterministic)
        bound = lower_bound(runs[jobs]["records"], jobs, cap)
        for j in runs:
            runs[j].pop("records")
        log("direct: the official harness on the attempts sweboard graded (jobs=N run) ...")
        direct = grading_figures.direct_harness(home / "runs" / f"bench-j{jobs}", home / "direct", log_path)
        direct["sweboard_resolved"] = grading_figures.sweboard_resolved(home / "runs" / f"bench-j{jobs}")
        mine = runs[jobs]
        if direct["direct_s_per_graded"]:
            direct["ratio_harness_s"] = round(mine["harness_s_per_graded"] / direct["direct_s_per_graded"], 2)
            if mine["busy_s_per_graded"]:
                direct["ratio_busy_s"] = round(mine["busy_s_per_graded"] / direct["direct_s_per_graded"], 2)
        out["grading"] = direct
        out.update(runs={str(j): r for j, r in runs.items()}, bound=bound, same_verdicts=same,
                   speedup=round(runs[1]["wall_s"] / runs[jobs]["wall_s"], 2),
                   ratio_to_bound=round(runs[jobs]["wall_s"] / bound["bound_s"], 2) if bound["bound_s"] else None)
        if with_peer:
            log("peer: mini-extra swebench + swebench.harness.run_evaluation (scripted/solver, K=1) ...")
            theirs = peer(env, home, home / "runs" / f"bench-j{jobs}" / "dataset.jsonl", instance_ids,
                          "scripted/solver", jobs, log_path)
            log("sweboard: run_models + evaluation (scripted/solver, K=1) ...")
            ours = pipeline(env, home, "bench-peer", ["scripted/solver"], jobs, 1, log_path)
            ours.update(attempt_figures(records(home, "bench-peer")))
            out.update(peer=theirs, ours_vs_peer=ours, ratio_to_peer=round(ours["wall_s"] / theirs["wall_s"], 2))
    finally:
        provider.stop()
    out["load_after"] = os.getloadavg()
    return out


def report(out: dict, log=print) -> None:
    log(f"runner: {out.get('runner', 'mini')}")
    for j, r in out["runs"].items():
        log(f"jobs={j}: wall={r['wall_s']}s agents={r['agents_s']}s attempts={r['attempts']} graded={r['graded']} "
            f"reused={r['reused']} overhead_p50={r['overhead_p50']}s overhead_p90={r['overhead_p90']}s "
            f"queued_p50={r['queued_p50']}s tests_s_per_graded={r['tests_s_per_graded']} "
            f"peak_cpu={r['peak_cpu']}% mean_cpu={r['mean_cpu']}%")
        log(f"  grading: {r['harness_runs']} harness runs ({r['in_batch_runs']} in-batch, grading "
            f"{r['in_batch_graded']}) for {r['graded_by_harness']} attempts; harness_s_per_graded="
            f"{r['harness_s_per_graded']} busy_s_per_graded={r['busy_s_per_graded']}")
        if r.get("startup_phases"):
            log(f"  start-up phases (median over {r['startup_phases']['attempts']} attempts): "
                + " ".join(f"{k}={v}" for k, v in r["startup_phases"].items() if k != "attempts"))
    g = out["grading"]
    log(f"direct harness (same attempts, --max_workers {g['direct_workers']}, {g['direct_runs']} runs one after "
        f"another): direct_s_per_graded={g['direct_s_per_graded']} (resolved {g['direct_resolved']} vs sweboard's "
        f"{g['sweboard_resolved']}); ratio harness_s={g.get('ratio_harness_s')} busy_s={g.get('ratio_busy_s')}")
    b = out["bound"]
    log(f"lower_bound={b['bound_s']}s (longest chain {b['longest_chain_s']}s, provider {b['provider_s_over_cap']}s, "
        f"jobs {b['all_s_over_jobs']}s)")
    log(f"speedup={out['speedup']} ratio_to_bound={out['ratio_to_bound']} same_verdicts={out['same_verdicts']}")
    if "peer" in out:
        p, o = out["peer"], out["ours_vs_peer"]
        log(f"peer: mini-extra+harness wall={p['wall_s']}s (agents {p['agents_s']}s, eval {p['eval_s']}s, "
            f"resolved {p['resolved']}/{p['of']}); sweboard wall={o['wall_s']}s (agents {o['agents_s']}s)")
        log(f"ratio_to_peer={out['ratio_to_peer']}")
    log(f"machine: {out['cores']} cores, load before {out['load_before'][0]:.2f}, after {out['load_after'][0]:.2f}")


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="benchmark_pipeline.py", description=(
        "Time the pipeline on a latency-bound offline workload (TEST EQUIPMENT: the i1 offline models against the "
        "scripted provider): jobs=1 then jobs=N back to back, the lower bound, speedup, ratio to bound, attempt "
        "overhead, evaluator seconds per graded attempt, CPU; then mini-extra swebench + the official harness on the "
        "same tasks and model (ratio_to_peer). Needs Docker and the offline images; takes several minutes."))
    p.add_argument("--latency", type=float, default=3.0, help="seconds before the provider answers any call (default 3)")
    p.add_argument("--attempts", type=int, default=2, help="K attempts per task (default 2)")
    p.add_argument("--jobs", type=int, default=8, help="jobs of the concurrent run (default 8)")
    p.add_argument("--no-peer", action="store_true", help="skip the mini-extra + harness comparison")
    p.add_argument("--runner", choices=["mini", "sweagent"], help="the agent (default mini; sweagent: no peer run)")
    p.add_argument("--json", type=Path, help="also write every figure here")
    args = p.parse_args(argv)
    out = run(args.latency, args.attempts, args.jobs, not args.no_peer, runner=args.runner)
    report(out)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))
    return 0
