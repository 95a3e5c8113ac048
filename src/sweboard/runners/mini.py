"""mini-swe-agent runner (PyPI; the CI default): its Python API, one child process per attempt.

The child (`sweboard.runners.mini_attempt`) builds mini's DefaultAgent with a litellm
model pointed at the catalog's base URL and a Docker environment with `--network none`.
mini-swe-agent reads a global `.env` at import and prints a banner; the child gets
`MSWEA_GLOBAL_CONFIG_DIR` inside the attempt folder so no stray settings or keys leak in.
"""

from __future__ import annotations

import json
import time
from importlib.metadata import PackageNotFoundError, version

from sweboard.errors import SweboardError
from sweboard.runners import warm
from sweboard.runners.base import (SESSION_FILE, Attempt, AttemptResult, child_env, finish, killed_result, read_json,
                                   scrub_files)

TRAJECTORY = "trajectory.json"


class MiniRunner:
    name = "mini"

    def version(self) -> str | None:
        try:
            return version("mini-swe-agent")
        except PackageNotFoundError:
            return None

    def prepare(self) -> None:
        """Before the batch's threads start: the warm fork server begins importing the agent."""
        warm.prepare()

    def spec(self, attempt: Attempt) -> dict:
        """Everything the child needs, and nothing secret (it is written to the attempt folder)."""
        base_url = attempt.base_url or attempt.model.provider.base_url()
        if not base_url:
            raise SweboardError(f"model {attempt.model.id}: provider {attempt.model.provider.name} has no base URL "
                                f"(set {attempt.model.provider.base_url_env})")
        cfg = attempt.config
        return {
            "instance_id": attempt.instance_id,
            "image": attempt.row["image"],
            "problem_statement": attempt.row["problem_statement"],
            "model_name": f"openai/{attempt.model.id}",
            "model_kwargs": {"api_base": base_url, "temperature": cfg.temperature, "seed": attempt.seed,
                             "max_tokens": cfg.max_tokens, "drop_params": True, "max_retries": 0},
            "step_limit": cfg.step_limit,
            "cost_limit": cfg.cost_limit,
            "command_timeout": cfg.command_timeout_seconds,
            "container_label": attempt.uid,
            "batch_label": attempt.batch_label,
            "container_seconds": int(attempt.timeout_seconds) + 120,
            "trajectory_path": str(attempt.out_dir / TRAJECTORY),
            "result_path": str(attempt.out_dir / "agent_result.json"),
            "session_file": str(attempt.out_dir / SESSION_FILE),
            "session": attempt.session,
        }

    def run(self, attempt: Attempt, api_key: str | None, secrets: list[str]) -> AttemptResult:
        out = attempt.out_dir
        out.mkdir(parents=True, exist_ok=True)
        (out / SESSION_FILE).write_text(attempt.session)
        spec_path = out / "agent_spec.json"
        spec_path.write_text(json.dumps(self.spec(attempt), indent=2))
        env = child_env(api_key, {
            "MSWEA_GLOBAL_CONFIG_DIR": str(out / "mswea-config"),
            "MSWEA_SILENT_STARTUP": "1",
            "MSWEA_COST_TRACKING": "ignore_errors",
            # the gateway retries (and counts retries); the agent's client must not retry on top of it
            "MSWEA_MODEL_RETRY_STOP_AFTER_ATTEMPT": "1",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # never fetch the price map from the internet
        })
        # forked from the machine's host, which imported mini-swe-agent once (warm.py), or a fresh interpreter
        child = warm.run_agent("sweboard.runners.mini_attempt", spec_path, env, out / "agent.log",
                               attempt.timeout_seconds, attempt.uid, started=attempt.started, reached=attempt.reached)
        scrub_files(out, secrets)
        calls = calls_from_trajectory(out / TRAJECTORY)
        clock = time.monotonic() - child.seconds  # the agent's clock started at its first step
        if child.code is None:
            return AttemptResult("timeout", "Timeout", "", "timeout",
                                 f"attempt exceeded its {attempt.timeout_seconds:g}s wall-clock limit",
                                 child.seconds, TRAJECTORY, calls, child.overhead)
        if child.killed_from_outside:
            return killed_result(child, TRAJECTORY if (out / TRAJECTORY).exists() else "", calls)
        result = read_json(out / "agent_result.json")
        if result is None:
            log_tail = (out / "agent.log").read_text(errors="replace").strip().splitlines()[-1:] or [""]
            return AttemptResult("error", "AgentCrashed", "", "agent_error",
                                 f"agent exited {child.code} without a result: {log_tail[0][:300]}",
                                 child.seconds, TRAJECTORY if (out / TRAJECTORY).exists() else "", calls, child.overhead)
        if result.get("infra"):
            return AttemptResult("error", result.get("exit_status") or "EnvironmentStartFailed", "", "infra",
                                 result.get("error", ""), child.seconds, "", calls, child.overhead)
        return finish(result.get("exit_status") or "", result.get("submission"), result.get("error", ""), clock,
                      trajectory=TRAJECTORY, model_calls=calls, overhead_seconds=child.overhead)


def calls_from_trajectory(path) -> list[dict]:
    """Per model call: provider-reported usage and the time it returned (mini stores both)."""
    data = read_json(path)
    if not data:
        return []
    calls = []
    for msg in data.get("messages", []):
        extra = msg.get("extra") or {}
        response = extra.get("response")
        if not isinstance(response, dict):
            continue
        usage = response.get("usage") or {}
        calls.append({
            "timestamp": extra.get("timestamp"),
            "prompt_tokens": usage.get("prompt_tokens"),
            "completion_tokens": usage.get("completion_tokens"),
            "provider_cost": usage.get("cost"),
            "model": response.get("model"),
            "system_fingerprint": response.get("system_fingerprint"),
        })
    return calls
