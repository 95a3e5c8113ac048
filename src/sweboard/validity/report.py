"""`runs/<run_id>/validity.json`: what the run's validity checks found, each finding with its evidence.

- `image_history`: per task, what its image's /testbed reached beyond the base commit (the preflight's
  audit, or the batches' own), and the sanitized image its attempts used instead, if any;
- `flagged`: every attempt whose commands looked up the answer (validity/scan.py), with the command,
  the attempt's outcome and its trajectory;
- `grader_flips`: every attempt whose independent gradings disagreed (regrade.py), with each verdict;
- `exports`: the self-checks of the run's exports (`exports/*.json`, written by export_submission.py).

Written with the run's own board, once the run is finished (a finished run is immutable); the page
shows the same findings.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sweboard.manifest import run_dir
from sweboard.outcomes import RESOLVED, task_outcomes

VALIDITY = "validity.json"


def image_history(manifest: dict) -> dict:
    """instance -> its image's audit: the preflight's, else the first batch that audited it."""
    found = dict(((manifest.get("preflight") or {}).get("history") or {}))
    for batch in manifest.get("batches", {}).values():
        for iid, audit in (batch.get("image_history") or {}).items():
            found.setdefault(iid, audit)
    return found


def findings(manifest: dict) -> dict:
    flagged, flips = [], []
    for model_id in manifest.get("batches", {}):
        for iid, per in sorted(task_outcomes(manifest, model_id).items()):
            for a in per:
                where = {"model": model_id, "instance_id": iid, "attempt": a["attempt"], "outcome": a["outcome"],
                         "record": a.get("record"), "trajectory": a.get("trajectory")}
                for flag in a.get("history_flags") or []:
                    flagged.append({**where, **flag})
                if a.get("grader_flip"):
                    flips.append({**where, "gradings": a.get("gradings") or []})
    audits = image_history(manifest)
    return {
        "run_id": manifest["run_id"],
        "image_history": audits,
        "images_leaking": sorted(iid for iid, a in audits.items() if not a.get("clean")),
        "flagged": flagged,
        "resolved_flagged": sum(1 for f in {(x["model"], x["instance_id"], x["attempt"]): x for x in flagged}.values()
                                if f["outcome"] == RESOLVED),
        "grader_flips": flips,
        "exports": exports(manifest["run_id"]),
    }


def exports(run_id: str) -> list[dict]:
    out = []
    for path in sorted((run_dir(run_id) / "exports").glob("*.json")):
        try:
            out.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return out


def write_validity(manifest: dict) -> Path | None:
    """The run's validity.json, once (its run is finished); None when it exists or the run is not finished."""
    target = run_dir(manifest["run_id"]) / VALIDITY
    if manifest.get("status") != "finished" or target.exists() or not target.parent.is_dir():
        return None
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(findings(manifest), indent=2) + "\n")
    os.replace(tmp, target)
    return target
