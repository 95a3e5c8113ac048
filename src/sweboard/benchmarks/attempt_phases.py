"""Where a SWE-agent attempt's start-up goes: phases read from its own trace log and the gateway's
record of its first call (for `benchmark_pipeline.py --runner sweagent`).

- `sweboard_s`: task container and relay up, agent forked, SWE-agent's config parsed — sweboard's part
  (the attempt's `overhead_seconds` minus everything below);
- `environment_s`: SWE-agent's "Starting environment" to "Running agent": its shell session
  (swe-rex waits 0.3 s), the repository reset;
- `tools_s`: "Running agent" to "STEP 1": the tool bundles uploaded and installed, the tools reset;
- `first_call_s`: "STEP 1" to the gateway receiving the first call (litellm's preparation).
Everything but `sweboard_s` is SWE-agent's own per-instance set-up, paid when it is run directly too.
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import datetime
from pathlib import Path

MARKS = {"env": " - INFO - swea-run - Starting environment", "agent": " - INFO - swea-run - Running agent",
         "step": "STEP 1 ="}


def _stamp(line: str) -> float:
    """A trace-log time (local time, milliseconds after a comma) as epoch seconds."""
    return time.mktime(datetime.strptime(line[:19], "%Y-%m-%d %H:%M:%S").timetuple()) + int(line[20:23]) / 1000


def phases(attempt_dir: Path, overhead: float | None) -> dict | None:
    traces = list(attempt_dir.glob("sweagent/*/*.trace.log"))
    calls = attempt_dir / "calls.jsonl"
    if not traces or overhead is None or not calls.is_file():
        return None
    marks: dict[str, float] = {}
    for line in traces[0].read_text(errors="replace").splitlines():
        for name, needle in MARKS.items():
            if name not in marks and needle in line and line[:4].isdigit():
                marks[name] = _stamp(line)
    first = next((json.loads(x)["t"] for x in calls.read_text().splitlines() if x.strip()), None)
    if len(marks) < 3 or first is None:
        return None
    own = first - marks["env"]
    return {"sweboard_s": round(overhead - own, 2), "environment_s": round(marks["agent"] - marks["env"], 2),
            "tools_s": round(marks["step"] - marks["agent"], 2), "first_call_s": round(first - marks["step"], 2)}


def median_phases(recs: list[dict]) -> dict:
    """The median of each phase over the attempts that have all of them."""
    rows = [p for r in recs if (p := phases(r["_dir"], r.get("overhead_seconds")))]
    if not rows:
        return {}
    return {"attempts": len(rows), **{k: round(statistics.median(p[k] for p in rows), 2) for k in rows[0]}}
