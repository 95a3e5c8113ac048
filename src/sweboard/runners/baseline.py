"""The no-patch baseline (`instant_empty_submit`): submits nothing, calls no model.

It is what SWE-agent's built-in `instant_empty_submit` model does, independent of runner:
the floor every model's resolve rate is compared against.
"""

from __future__ import annotations

import json
import time

from sweboard.runners.base import Attempt, AttemptResult


class BaselineRunner:
    name = "baseline"

    def version(self) -> str | None:
        return None

    def run(self, attempt: Attempt, api_key: str | None, secrets: list[str]) -> AttemptResult:
        started = time.monotonic()
        attempt.out_dir.mkdir(parents=True, exist_ok=True)
        (attempt.out_dir / "trajectory.json").write_text(json.dumps({
            "agent": "instant_empty_submit",
            "instance_id": attempt.instance_id,
            "messages": [],
            "info": {"exit_status": "Submitted", "submission": "",
                     "note": "no-patch baseline: no model call, empty submission"},
        }, indent=2))
        return AttemptResult("empty", "Submitted", "", "", "", time.monotonic() - started, "trajectory.json", [])
