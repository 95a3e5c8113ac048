"""One model's batch for `benchmark_scale`: run_model_batch.py's way in (its arguments, the one
validation, the claim, `launch.run_one_batch`), with attempts that make one call through the batch's
gateway to the scripted provider and submit at once (test equipment: no container, no agent).

Why a child of its own and not a runner a user could name: an instant attempt is never a result, so
it is reachable only from the benchmark, which starts this module with `python -I -m`.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request

BATCH_PARTS = ("run", "slice", "model", "settings")


class OneCallRunner:
    """Test equipment: one chat call through the attempt's gateway route, then a one-line patch."""

    name = "instant"
    metered = True
    needs_task_image = False

    def version(self) -> str | None:
        return None

    def run(self, attempt, api_key, secrets):
        from sweboard.runners.base import AttemptResult

        iid = attempt.row["instance_id"]
        body = json.dumps({"model": "any", "max_tokens": 16,
                           "messages": [{"role": "user", "content": attempt.row["problem_statement"]}]}).encode()
        req = urllib.request.Request(f"{attempt.base_url}/chat/completions", data=body, method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"})
        with urllib.request.urlopen(req, timeout=30) as reply:  # 127.0.0.1: the batch's own gateway
            json.loads(reply.read())
        return AttemptResult("submitted", "Submitted", f"diff --git a/{iid} b/{iid}\n", duration_seconds=0.0)


def main(argv=None) -> int:
    from sweboard import executors, launch
    from sweboard.errors import SweboardError
    from sweboard.request import add_arguments, claim, from_args, validate

    p = argparse.ArgumentParser(prog="scale_batch", description="benchmark_scale's batch (test equipment)")
    add_arguments(p, *BATCH_PARTS)
    args = p.parse_args(argv)
    try:
        run = validate(from_args("run_model_batch.py", args, *BATCH_PARTS, calls_models=True))
        executors.use_cluster(run.request.cluster)
        claim(run)
        return launch.run_one_batch(run, runner=OneCallRunner())
    except SweboardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
