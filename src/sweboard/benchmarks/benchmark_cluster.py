"""The Ray executor's cost on one machine: the same workload on the local executor and on a local
Ray cluster (head + N workers on 127.0.0.1), back to back, plus a paper projection to many hosts.

Prints numbers; asserts nothing. The workload is `benchmark_pipeline`'s: the i1 offline models
(TEST EQUIPMENT) against the scripted provider answering every call after `latency` seconds,
`run_models.py` + the official evaluator + `finish_run.py`, in a scratch SWEBOARD_HOME.

- `ray_overhead_ratio` = the Ray run's wall / the local run's (target <= 1.15 on one machine), and
  the same after each run's time before its first attempt (`preparation`): on a fresh cluster the
  Ray run spends that loading the task images into each worker's own engine (once per host, as a
  pull would) and grading each node's canary (once per run), which the local run has no need of.
- Per-attempt scheduling overhead: what Ray adds to each attempt (submit -> running on the
  worker, plus its folder back), from the records' `node.ray_overhead_seconds` (target P50 <= 0.3 s).
- Projection: 300 tasks x 10 models x K=3 on H hosts from the measured per-attempt seconds
  (start-up + agent + Ray) and per-grade seconds, at the measured slots per host.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from pathlib import Path

from sweboard.benchmarks import grading_figures
from sweboard.benchmarks.benchmark_pipeline import (PY, SLICE, TOOLS, Provider, _pct, attempt_figures, pipeline,
                                                    records, scratch_home, verdicts)


def run(workers: int = 2, latency: float = 3.0, attempts: int = 2, jobs: int = 8, log=print) -> dict:
    from sweboard.catalog import load_catalog
    from sweboard.executors import local_cluster

    home = scratch_home()
    env = {**os.environ, "SWEBOARD_HOME": str(home), "SWEBOARD_CREDENTIALS": str(home / "secrets" / "credentials.txt")}
    for var in ("CHUTES_API_KEY", "OPENROUTER_API_KEY", "CHUTES_BASE_URL", "OPENROUTER_BASE_URL", "SWEBOARD_CLUSTER"):
        env.pop(var, None)
    log_path = home / "benchmark.log"
    provider = Provider(home, latency)
    env["SWEBOARD_SCRIPTED_BASE_URL"] = provider.base_url
    slots = max(1, -(-jobs // workers))
    name = f"bench-{os.getpid()}"
    out: dict = {"home": str(home), "latency_s": latency, "attempts": attempts, "jobs": jobs, "workers": workers,
                 "docker_slot": slots, "cores": os.cpu_count(), "load_before": os.getloadavg()}
    try:
        listed = subprocess.run([PY, str(TOOLS / "plan_run.py"), "--iteration", "i1", "--instances",
                                 str(home / "config" / SLICE), "--attempts", str(attempts), "--offline",
                                 "--list-models"], env=env, capture_output=True, text=True, check=True)
        models = listed.stdout.split()
        t0 = time.monotonic()
        state = local_cluster.up(workers, slots, max(1, slots // 2), name)
        out["cluster_up_s"] = round(time.monotonic() - t0, 1)
        log(f"workload: {len(models)} models x 4 tasks, K={attempts}, jobs {jobs}, provider answers after >= {latency:g}s; "
            f"local cluster: head + {workers} workers x {slots} docker_slot (up in {out['cluster_up_s']}s); log {log_path}")
        runs = {}
        for label, extra in (("local", {}), ("ray", {"SWEBOARD_CLUSTER": state["address"]})):
            log(f"pipeline {label} ...")
            runs[label] = pipeline({**env, **extra}, home, f"bench-{label}", models, jobs, attempts, log_path)
            recs = records(home, runs[label]["run_id"])
            runs[label].update(attempt_figures(recs), preparation_s=preparation(recs, runs[label].pop("began_epoch")))
            runs[label].update(grading_figures.sweboard_grading(home / "runs" / runs[label]["run_id"]))
            runs[label]["records"] = recs
            log(f"  {label}: wall {runs[label]['wall_s']}s (agents {runs[label]['agents_s']}s), overhead P50 "
                f"{runs[label]['overhead_p50']}s, harness s/graded {runs[label]['harness_s_per_graded']}")
        ray_recs = runs["ray"]["records"]
        sched = [r["node"]["ray_overhead_seconds"] for r in ray_recs if (r.get("node") or {}).get("ray_overhead_seconds") is not None]
        catalog = load_catalog()
        deterministic = {m for m in models if catalog.get(m).is_baseline or m in
                         ("scripted/solver", "scripted/empty", "scripted/wrong", "scripted/ratelimited")}
        out.update(same_verdicts=verdicts(runs["local"]["records"], deterministic) == verdicts(ray_recs, deterministic),
                   ray_overhead_ratio=round(runs["ray"]["wall_s"] / runs["local"]["wall_s"], 2),
                   ray_overhead_ratio_prepared=round((runs["ray"]["wall_s"] - runs["ray"]["preparation_s"])
                                                     / (runs["local"]["wall_s"] - runs["local"]["preparation_s"]), 2),
                   scheduling_p50=_pct(sched, 0.5), scheduling_p90=_pct(sched, 0.9), scheduled=len(sched),
                   projection=projection(ray_recs, slots, max(1, slots // 2)))
        for r in runs.values():
            r.pop("records")
        out["runs"] = runs
    finally:
        local_cluster.down(name)
        provider.stop()
    out["load_after"] = os.getloadavg()
    return out


def preparation(recs: list[dict], began: float) -> float:
    """Seconds from the run's start to its first agent attempt's start: the nodes' preparation (on a fresh
    cluster each worker's engine is loaded with the task images, a one-off per host like a pull; then
    each node's evaluator canary, once per run) and the batches' own start-up."""
    starts = [r["ran_epoch"][0] for r in recs if r["model"] != "instant_empty_submit" and r.get("ran_epoch")]
    return round(min(starts) - began, 1) if starts else 0.0


def projection(recs: list[dict], slots: int, eval_slots: int, tasks: int = 300, models: int = 10, k: int = 3) -> dict:
    """Paper figures for tasks x models x K attempts (the upper bound: no task stops early) on H hosts."""
    per_attempt = [(r.get("overhead_seconds") or 0) + (r.get("duration_seconds") or 0)
                   + ((r.get("node") or {}).get("ray_overhead_seconds") or 0)
                   for r in recs if r["model"] != "instant_empty_submit"]
    grades = [r["_verdict"]["wall_seconds"] for r in recs if r["_verdict"] and not r["_verdict"].get("reused_from")
              and r["_verdict"].get("wall_seconds")]
    a = statistics.median(per_attempt) if per_attempt else 0.0
    g = statistics.median(grades) if grades else 0.0
    n = tasks * models * k
    return {"attempts": n, "attempt_s_median": round(a, 2), "grade_s_median": round(g, 2),
            "hours_by_hosts": {h: round((n * a / (h * slots) + n * g / (h * eval_slots)) / 3600, 1) for h in (1, 4, 16, 64)}}


def report(out: dict, log=print) -> None:
    for label, r in out["runs"].items():
        log(f"{label}: wall={r['wall_s']}s agents={r['agents_s']}s attempts={r['attempts']} graded={r['graded']} "
            f"overhead_p50={r['overhead_p50']}s overhead_p90={r['overhead_p90']}s harness_s_per_graded={r['harness_s_per_graded']} "
            f"peak_cpu={r['peak_cpu']}% mean_cpu={r['mean_cpu']}% before_first_attempt={r['preparation_s']}s")
    log(f"ray_overhead_ratio={out['ray_overhead_ratio']} (after each run's time before its first attempt: "
        f"{out['ray_overhead_ratio_prepared']}) scheduling_overhead_p50={out['scheduling_p50']}s "
        f"p90={out['scheduling_p90']}s (of {out['scheduled']} attempts) same_verdicts={out['same_verdicts']}")
    p = out["projection"]
    log(f"projection: {p['attempts']} attempts (300 tasks x 10 models x K=3, none stopping early) at "
        f"{p['attempt_s_median']}s an attempt and {p['grade_s_median']}s a grading, {out['docker_slot']} docker_slot per host: "
        + ", ".join(f"{h} hosts {hours} h" for h, hours in p["hours_by_hosts"].items())
        + " (this workload's agent seconds: scripted, 3 s a call; real models take longer)")
    log(f"machine: {out['cores']} cores, load before {out['load_before'][0]:.2f}, after {out['load_after'][0]:.2f}")


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="benchmark_cluster.py", description=(
        "What the Ray executor costs: the benchmark workload (TEST EQUIPMENT: the i1 offline models against the "
        "scripted provider) on the local executor, then on a local Ray cluster (head + N workers on 127.0.0.1), back "
        "to back; prints ray_overhead_ratio, the per-attempt scheduling overhead and a projection to many hosts."))
    p.add_argument("--workers", type=int, default=2, help="worker nodes of the local cluster (default 2)")
    p.add_argument("--latency", type=float, default=3.0, help="seconds before the provider answers any call (default 3)")
    p.add_argument("--attempts", type=int, default=2, help="K attempts per task (default 2)")
    p.add_argument("--jobs", type=int, default=8, help="attempts at once, in both runs (default 8)")
    p.add_argument("--json", type=Path, help="also write every figure here")
    p.add_argument("--dry-run", action="store_true", help="say what would run; run nothing")
    args = p.parse_args(argv)
    if args.dry_run:
        print(f"would run the i1 offline models (K={args.attempts}, jobs {args.jobs}) locally, then on a local Ray "
              f"cluster of {args.workers} workers, in a scratch home")
        return 0
    out = run(args.workers, args.latency, args.attempts, args.jobs)
    report(out)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))
    return 0
