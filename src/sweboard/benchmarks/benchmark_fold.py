"""How long folding the board takes at scale: synthetic manifests with N attempt records (test equipment).

Prints seconds for the fold (one row per batch), the per-repo breakdown, the pairwise tests and the page.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path


def synthetic(records: int, models: int = 10, repos: int = 8, k: int = 2, seed: int = 1) -> dict:
    rng = random.Random(seed)
    tasks = max(1, records // (models * k))
    ids = [f"org{i % repos}__repo{i % repos}-{i}" for i in range(tasks)]
    batches, evaluations = {}, {}
    for m in range(models):
        mid = f"bench/model-{m}"
        skill = rng.random()
        attempts, verdicts = {}, {}
        for iid in ids:
            per, vs = [], []
            for a in range(1, k + 1):
                usage = {"model_calls": 5, "failed_calls": 0, "retries": 0, "prompt_tokens": 4000, "completion_tokens": 300,
                         "cost_usd": 0.002, "cost_list_usd": 0.002, "latencies_s": [rng.random() * 3 for _ in range(5)],
                         "token_sources": {"provider": 5}, "backoff_s": 0.0}
                per.append({"attempt": a, "status": "submitted", "exit_status": "Submitted", "error_class": "",
                            "duration_seconds": rng.random() * 40, "record": f"attempts/{m}/{iid}/attempt-{a}/record.json",
                            "trajectory": None, "usage": usage})
                vs.append({"attempt": a, "verdict": "resolved" if rng.random() < skill else "unresolved", "error_class": ""})
            attempts[iid], verdicts[iid] = per, vs
        batches[mid] = {"model": {"provider": "bench"}, "kind": "model", "runner": "mini", "status": "ok",
                        "attempts_per_task": k, "stop_after_resolved": False, "wall_seconds": 100.0,
                        "attempts": attempts, "set_aside": []}
        evaluations[mid] = {"wall_seconds": 10.0, "post_batch_wall_seconds": 5.0, "failures": [], "instances": verdicts}
    return {"run_id": "bench", "status": "finished", "created_at": "2026-11-26T00:00:00Z",
            "slice": {"instance_ids": ids, "split": "dev", "instance_ids_sha256": "x"},
            "dataset_lock": {"repo_id": "bench", "revision": "0" * 40}, "runner_config": {},
            "batches": batches, "evaluations": evaluations}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="benchmark_fold.py", description=(
        "Time the board's fold, breakdowns, pairwise tests and page on synthetic manifests (test equipment)."))
    p.add_argument("--records", type=int, default=10_000, help="attempt records in all (default 10000)")
    p.add_argument("--models", type=int, default=10)
    args = p.parse_args(argv)
    from sweboard.leaderboard import ERR_COLUMNS, breakdown_rows, columns, leaderboard_rows, pairwise_rows
    from sweboard.report.page import render

    m = synthetic(args.records, args.models)
    n = sum(len(per) for b in m["batches"].values() for per in b["attempts"].values())
    t = time.perf_counter()
    rows = leaderboard_rows([m])
    fold = time.perf_counter() - t
    t = time.perf_counter()
    by_repo = breakdown_rows([m], "repo")
    breakdown = time.perf_counter() - t
    t = time.perf_counter()
    pairs = pairwise_rows(m)
    pairwise = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        render(Path(tmp) / "page.html", columns("v3"), rows, [m], by_repo, ERR_COLUMNS)
        page = time.perf_counter() - t
    print(f"records={n} models={args.models} tasks={len(m['slice']['instance_ids'])} rows={len(rows)} pairs={len(pairs)}")
    print(f"fold_s={fold:.2f} breakdown_s={breakdown:.2f} pairwise_s={pairwise:.2f} page_s={page:.2f} "
          f"total_s={fold + breakdown + pairwise + page:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
