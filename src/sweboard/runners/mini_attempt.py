"""Child process for one mini-swe-agent attempt: `python -m sweboard.runners.mini_attempt SPEC`.

Kept separate so the parent can kill it (and its containers) at the wall-clock limit.
Writes the trajectory (mini's own format) and `agent_result.json` (exit status, submission).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import yaml


def still_mine(spec: dict) -> bool:
    """Is the attempt folder still this session's? A child orphaned by a killed batch finds the
    folder set aside (or re-created by a resume with a new session) and must not write into it."""
    try:
        return Path(spec["session_file"]).read_text() == spec["session"]
    except (OSError, KeyError):
        return False


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    from minisweagent.agents.default import DefaultAgent

    class SessionAgent(DefaultAgent):
        def save(self, path, *extra_dicts):
            if path and not still_mine(spec):
                os._exit(0)  # stale: write nothing, anywhere
            return super().save(path, *extra_dicts)

    from minisweagent.config import builtin_config_dir
    from minisweagent.environments.docker import DockerEnvironment
    from minisweagent.models.litellm_model import LitellmModel

    config = yaml.safe_load((builtin_config_dir / "benchmarks" / "swebench.yaml").read_text())
    model_cfg = {k: v for k, v in config["model"].items() if k not in ("model_name", "model_kwargs")}
    model = LitellmModel(model_name=spec["model_name"], model_kwargs=spec["model_kwargs"],
                         cost_tracking="ignore_errors", **model_cfg)
    env_cfg = {k: v for k, v in config["environment"].items() if k != "environment_class"}
    # an orphaned container (its batch killed with -9) ends by itself soon after the attempt's limit
    env_cfg.update(image=spec["image"], cwd="/testbed", timeout=spec["command_timeout"],
                   container_timeout=f"{int(spec.get('container_seconds', 7200))}s",
                   run_args=["--rm", "--network", "none", "--pull", "never", "--label", f"sweboard.attempt={spec['container_label']}",
                             "--label", f"sweboard.batch={spec.get('batch_label', '')}"])
    result_path = Path(spec["result_path"])
    agent = None
    try:
        env = DockerEnvironment(**env_cfg)
    except Exception as exc:  # the task container never started: infrastructure, not the model
        stderr = getattr(exc, "stderr", "") or ""
        detail = " ".join(str(stderr).strip().splitlines()[-3:]) or str(exc).strip()
        result = {"exit_status": "EnvironmentStartFailed", "submission": "", "infra": True,
                  "error": f"task container did not start ({type(exc).__name__}): {detail}"[:800]}
        if still_mine(spec):
            result_path.write_text(json.dumps(result, indent=2))
        return 0
    try:
        agent_cfg = {**config["agent"], "step_limit": spec["step_limit"], "cost_limit": spec["cost_limit"],
                     "output_path": Path(spec["trajectory_path"])}
        agent = SessionAgent(model, env, **agent_cfg)
        info = agent.run(spec["problem_statement"])
        result = {"exit_status": info.get("exit_status"), "submission": info.get("submission") or "", "error": ""}
    except Exception as exc:  # the agent already recorded its exit message in the trajectory
        first_line = (str(exc).strip().splitlines() or [""])[0]
        result = {"exit_status": type(exc).__name__, "submission": "", "error": first_line[:500]}
    finally:
        if agent is not None:
            agent.save(Path(spec["trajectory_path"]), {"instance_id": spec["instance_id"]})
            agent.env.cleanup()
    if still_mine(spec):
        result_path.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
