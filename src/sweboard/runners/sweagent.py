"""SWE-agent 1.x runner: one `sweagent run` per attempt, in the task's image, killed at the limit.

SWE-agent is not on PyPI (install the `sweagent` extra from its git repository). Facts that
shape this runner (SWE-agent v1.1.0): `run-batch` exits 0 when instances fail and its resume
skips instances that ended in `exit_error`, so we run one instance per `sweagent run` and
keep our own records and resume; it has no per-instance wall-clock limit, so the child is
killed (with its containers, found by label) at ours; swe-rex's docker deployment needs
`swerex-remote` in the image and an empty `python_standalone_dir`, else it pip-installs
swe-rex inside the container; an unpriced model makes every call an error unless cost
limits are 0. The key is passed as `$ENV_VAR` (SWE-agent resolves it), so its saved
`config.yaml` holds the variable's name, never the value.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from sweboard.errors import SweboardError
from sweboard.runners.base import CONTAINER_LABEL, Attempt, AttemptResult, child_env, finish, run_child, scrub_files

KEY_VAR = "SWEBOARD_AGENT_API_KEY"  # the only key variable the child sees


class SweAgentRunner:
    name = "sweagent"

    def __init__(self, executable: str = "sweagent", docker_args: list[str] | None = None):
        self.executable = executable
        # swe-rex reaches swerex-remote through a published port, so `--network none`
        # cannot be used here; operators choose (e.g. ["--network=host"] on a bridge-less engine).
        self.docker_args = docker_args or []

    def version(self) -> str | None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("sweagent")
        except PackageNotFoundError:
            return None

    def available(self) -> bool:
        return shutil.which(self.executable) is not None and (self.version() or "0").split(".")[0] not in ("0", "")

    def command(self, attempt: Attempt, problem_file: Path, output_dir: Path) -> list[str]:
        cfg = attempt.config
        model = attempt.model
        docker_args = [*self.docker_args, f"--label={CONTAINER_LABEL}={attempt.uid}"]
        cmd = [
            self.executable, "run",
            f"--agent.model.name=openai/{model.id}",
            f"--agent.model.api_base={attempt.base_url or model.provider.base_url()}",
            f"--agent.model.api_key=${KEY_VAR}",
            f"--agent.model.temperature={cfg.temperature:g}",
            "--agent.model.per_instance_cost_limit=0",
            "--agent.model.total_cost_limit=0",
            f"--agent.model.per_instance_call_limit={cfg.step_limit}",
            f"--agent.model.max_output_tokens={cfg.max_tokens}",
            "--env.deployment.type=docker",
            f"--env.deployment.image={attempt.row['image']}",
            "--env.deployment.python_standalone_dir=",
            f"--env.deployment.docker_args={json.dumps(docker_args)}",
            "--env.repo.type=preexisting",
            "--env.repo.repo_name=testbed",
            f"--env.repo.base_commit={attempt.row['base_commit']}",
            "--problem_statement.type=text_file",
            f"--problem_statement.path={problem_file}",
            f"--problem_statement.id={attempt.instance_id}",
            f"--output_dir={output_dir}",
        ]
        return cmd

    def run(self, attempt: Attempt, api_key: str | None, secrets: list[str]) -> AttemptResult:
        if not self.available():
            raise SweboardError("runner sweagent: SWE-agent 1.x is not installed (pip install -e '.[sweagent]' needs GitHub access)")
        started = time.monotonic()
        out = attempt.out_dir
        out.mkdir(parents=True, exist_ok=True)
        problem = out / "problem_statement.md"
        problem.write_text(attempt.row["problem_statement"])
        sa_out = out / "sweagent"
        env = child_env(None, {"LITELLM_LOCAL_MODEL_COST_MAP": "True"})
        if api_key:
            env[KEY_VAR] = api_key
        code, _ = run_child(self.command(attempt, problem, sa_out), env, out / "agent.log",
                            attempt.timeout_seconds, attempt.uid)
        scrub_files(out, secrets)
        traj_path = sa_out / attempt.instance_id / f"{attempt.instance_id}.traj"
        trajectory = str(traj_path.relative_to(out)) if traj_path.exists() else ""
        if code is None:
            return AttemptResult("timeout", "Timeout", "", "timeout",
                                 f"attempt exceeded its {attempt.timeout_seconds:g}s wall-clock limit",
                                 time.monotonic() - started, trajectory)
        info = {}
        if traj_path.exists():
            info = json.loads(traj_path.read_text()).get("info", {})
        exit_status = str(info.get("exit_status") or f"exit code {code}")
        # SWE-agent says "submitted" (sometimes with a suffix like "submitted (exit_cost)")
        normalized = "Submitted" if exit_status.startswith("submitted") else exit_status
        # SWE-agent counts tokens locally, not from the provider: per-call usage is not taken from it.
        return finish(normalized, info.get("submission"), "" if normalized == "Submitted" else exit_status, started,
                      trajectory=trajectory)
