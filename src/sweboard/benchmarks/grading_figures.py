"""Grading figures for the benchmarks: sweboard's harness runs of a run, and the same attempts
graded by the official harness run directly (as a user would: `python -m
swebench.harness.run_evaluation`, one run per model and attempt index, `--max_workers` the run's
evaluator workers, one after another).

Seconds per graded attempt, both ways:
- `harness_s_per_graded`: the seconds of sweboard's harness runs over the attempts they graded
  (a run that grades three coalesced attempts counts once);
- `busy_s_per_graded`: the wall-clock seconds during which at least one grading ran, over the
  attempts graded — sweboard's runs overlap (evaluator slots), the direct ones do not;
- `direct_s_per_graded`: the direct harness runs' wall over the same attempts.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path


def invocations(run: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(run.glob("evaluation/*/e*/invocation.json"))]


def _union_seconds(spans: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for a, b in sorted(spans):
        if b > end:
            total += b - max(a, end)
            end = b
    return total


def sweboard_grading(run: Path) -> dict:
    """Figures of the harness runs sweboard made for `run` (in-batch and after the batches)."""
    runs = invocations(run)
    graded = [sum(1 for s in inv["attempts"].values() if s == "graded") for inv in runs]
    n = sum(graded)
    spans = [(inv["started"], inv["started"] + inv["wall_seconds"]) for inv in runs if "started" in inv]
    in_batch = [g for inv, g in zip(runs, graded) if inv.get("in_batch")]
    return {"harness_runs": len(runs), "graded_by_harness": n,
            "in_batch_runs": len(in_batch), "in_batch_graded": sum(in_batch),
            "harness_s_per_graded": round(sum(inv["wall_seconds"] for inv in runs) / n, 2) if n else None,
            "busy_s_per_graded": round(_union_seconds(spans) / n, 2) if n and len(spans) == len(runs) else None}


def graded_attempts(run: Path) -> dict[tuple[str, int], list[dict]]:
    """The predictions sweboard's harness runs graded, by (model, attempt index)."""
    groups: dict[tuple[str, int], list[dict]] = {}
    for path in sorted(run.glob("evaluation/*/e*/invocation.json")):
        inv = json.loads(path.read_text())
        preds = [json.loads(line) for line in (path.parent / "predictions.jsonl").read_text().splitlines() if line]
        for pred in preds:
            if inv["attempts"].get(f"{pred['instance_id']}#{pred['attempt']}") == "graded":
                groups.setdefault((pred["model_name_or_path"], pred["attempt"]), []).append(pred)
    return groups


def direct_harness(run: Path, work: Path, log_path: Path) -> dict:
    """The same attempts, graded by the harness run directly with the run's evaluator workers;
    resolved counts must match sweboard's."""
    from sweboard.harness import evaluator_command

    manifest = json.loads((run / "manifest.json").read_text())
    dataset, split = run / manifest["dataset_file"], manifest["slice"]["split"]
    workers = int(manifest["runner_config"]["evaluator_workers"])
    groups = graded_attempts(run)
    total, resolved, n = 0.0, 0, 0
    for i, ((model, k), preds) in enumerate(sorted(groups.items())):
        folder = work / f"direct-{i}"
        folder.mkdir(parents=True)
        (folder / "preds.jsonl").write_text("".join(json.dumps(p) + "\n" for p in preds))
        cmd = evaluator_command(dataset, split, folder / "preds.jsonl", f"direct-{i}",
                                [p["instance_id"] for p in preds], workers, 300)
        t0 = time.monotonic()
        with log_path.open("a") as log:
            subprocess.run([sys.executable, *cmd[1:]], cwd=folder, stdout=log, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL)
        total += time.monotonic() - t0
        n += len(preds)
        for report in folder.glob("logs/run_evaluation/*/*/*/report.json"):
            resolved += sum(1 for v in json.loads(report.read_text()).values() if v.get("resolved"))
    return {"direct_runs": len(groups), "direct_workers": workers, "direct_graded": n, "direct_resolved": resolved,
            "direct_s_per_graded": round(total / n, 2) if n else None}


def sweboard_resolved(run: Path) -> int:
    """Resolved verdicts sweboard's harness runs gave (reused ones left out, as the direct runs have none)."""
    verdicts = [json.loads(p.read_text()) for p in run.glob("attempts/*/*/attempt-*/verdict.json")
                if "." not in p.parent.name]
    return sum(1 for v in verdicts if v.get("verdict") == "resolved" and not v.get("reused_from"))
