"""Evidence for a longer per-task timeout: attempts cut by the wall clock while the agent still worked.

The plan raises a task's timeout (to 120-180 s) only when telemetry shows the limit, not the model,
ended the attempt. "Still working" here means the gateway answered model calls in the last quarter
of the attempt's limit: the agent was acting, not hung, when the clock stopped it.
"""

from __future__ import annotations

import json
from pathlib import Path

from sweboard.manifest import require_manifest, run_dir

STILL_WORKING = 0.75  # a successful call after this share of the limit counts as progress
PROPOSED = (120, 180)


def suggestions(run_id: str) -> list[dict]:
    manifest = require_manifest(run_id)
    out = []
    for model_id, batch in manifest["batches"].items():
        for iid, attempts in (batch.get("attempts") or {}).items():
            for a in attempts:
                if a.get("status") != "timeout":
                    continue
                record_path = run_dir(run_id) / a["record"]
                try:
                    record = json.loads(record_path.read_text())
                except (OSError, json.JSONDecodeError):
                    continue
                calls = [c for c in record.get("gateway_calls", []) if c.get("status") == 200 and c.get("t")]
                if not calls:
                    continue  # no answered call at all: the provider's trouble, not a short limit
                limit = record.get("timeout_seconds") or 0
                start = min(c["t"] - (c.get("total_s") or 0) for c in calls)
                late = [c for c in calls if c["t"] - start >= STILL_WORKING * limit]
                if late:
                    out.append({"model": model_id, "instance": iid, "attempt": a["attempt"], "limit": limit,
                                "calls": len(calls), "late_calls": len(late),
                                "evidence": str(Path("runs") / run_id / a["record"]),
                                "proposed": PROPOSED[0] if limit < PROPOSED[0] else PROPOSED[1]})
    return out


def render(run_id: str, rows: list[dict]) -> str:
    if not rows:
        return f"run {run_id}: no attempt hit its limit while still making progress; keep the timeouts"
    lines = [f"run {run_id}: {len(rows)} attempt(s) cut by the wall clock while the agent still worked:"]
    for r in rows:
        lines.append(f"  {r['instance']} ({r['model']} #{r['attempt']}): limit {r['limit']:g}s, {r['late_calls']} of "
                     f"{r['calls']} answered calls in the last quarter; evidence {r['evidence']}")
    lines.append("overrides for config/sweagent.yaml (review before adding):")
    for r in {x["instance"]: x for x in rows}.values():
        lines.append(f"  - {{instance: {r['instance']}, attempt_timeout_seconds: {r['proposed']}, "
                     f"reason: \"hit {r['limit']:g}s while still working in {r['evidence']}\"}}")
    return "\n".join(lines)
