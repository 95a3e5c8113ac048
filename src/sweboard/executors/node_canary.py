"""The evaluator canary on every worker node, before that node takes work.

Why per node: a verdict is only as good as the Docker engine and images that produced it; one
node with a broken engine or a stale image would grade its share of a run wrong, silently. So
the run's gold patches (which must all resolve) and empty patches (which must resolve none)
are graded by the unmodified harness on each node, through the same `run_harness` path as
model attempts. A node that fails stops the batch with a line naming it; a node that passed is
not checked again in this run while its task images keep their ids.
"""

from __future__ import annotations

import json
from pathlib import Path

from sweboard.errors import SweboardError
from sweboard.locks import file_lock
from sweboard.manifest import run_dir


def _predictions(rows: list[dict], gold: bool) -> str:
    name = "gold" if gold else "empty"
    return "".join(json.dumps({"instance_id": r["instance_id"], "model_name_or_path": name,
                               "model_patch": r.get("patch", "") if gold else ""}) + "\n" for r in rows)


def check_node(executor, run_id: str, node_id: str, rows: list[dict], split: str, image_ids: dict) -> dict:
    """Gold and empty patches graded on `node_id`; returns the record (cached in runs/<run>/nodes/)."""
    from sweboard.harness import evaluator_command, read_verdicts

    folder = run_dir(run_id) / "nodes" / node_id[:16]
    folder.mkdir(parents=True, exist_ok=True)
    ids = [r["instance_id"] for r in rows]
    with file_lock(folder / ".lock"):
        cached = folder / "canary.json"
        if cached.is_file():
            record = json.loads(cached.read_text())
            if record.get("passed") and record.get("image_ids") == image_ids and set(record["instances"]) >= set(ids):
                return record
        results, problems = {}, []
        for gold in (True, False):
            name = "gold" if gold else "empty"
            work = folder / name
            n = 1
            while (work.parent / f"{name}-{n}").exists():
                n += 1
            work = work.parent / f"{name}-{n}"
            work.mkdir()
            (work / "predictions.jsonl").write_text(_predictions(rows, gold))
            eval_id = f"{run_id}.node-{node_id[:8]}.{name}-{n}"
            cmd = evaluator_command(run_dir(run_id) / "dataset.jsonl", split, work / "predictions.jsonl", eval_id,
                                    ids, max(1, min(4, len(ids))), 900)
            code, seconds, node = executor.run_harness(cmd, work, near={"ray_node_id": node_id}, soft=False)
            verdicts, _ = read_verdicts(work, name, eval_id, ids)
            resolved = sorted(i for i, v in verdicts.items() if v == "resolved")
            results[name] = {"exit_code": code, "seconds": round(seconds, 2), "resolved": resolved,
                             "graded": len(verdicts), "node": node}
            if gold and len(resolved) != len(ids):
                problems.append(f"gold resolved {len(resolved)}/{len(ids)} (not: "
                                f"{', '.join(sorted(set(ids) - set(resolved)))})")
            if not gold and resolved:
                problems.append(f"empty patches resolved {', '.join(resolved)}")
        record = {"node_id": node_id, "passed": not problems, "instances": ids, "image_ids": image_ids,
                  "detail": "; ".join(problems) or f"gold {len(ids)}/{len(ids)} resolved, empty 0/{len(ids)}",
                  **results}
        tmp = folder / ".canary.json.tmp"
        tmp.write_text(json.dumps(record, indent=2))
        tmp.replace(cached)
    if not record["passed"]:
        raise SweboardError(f"node {node_id[:12]} failed the evaluator canary ({record['detail']}); see "
                            f"{Path('runs') / run_id / 'nodes' / node_id[:16]}; fix that host or take it out of the cluster")
    return record
