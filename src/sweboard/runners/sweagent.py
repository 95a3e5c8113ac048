"""SWE-agent 1.x runner: one `sweagent run` per attempt, its container without any network.

Each attempt's SWE-agent is a fork of the machine's warm host, which imported SWE-agent once
(`warm.py`; `SWEBOARD_WARM_START=0`: a fresh interpreter per attempt), running its own CLI.

SWE-agent is not on PyPI: `tools/install_sweagent.sh` installs it (editable) into `.venv`.
Facts that shape this runner (SWE-agent v1.1.0, swe-rex 1.4.0):
- SWE-agent reaches its container through swe-rex's HTTP server; its docker deployment needs a
  published port, which `--network none` forbids. We start the container ourselves with no
  network, no bind mount and swe-rex on a socket inside it, reached through one `docker exec -i`
  stream and an authenticated relay on 127.0.0.1 (`rexbridge.py`), and point SWE-agent's
  `remote` deployment at the relay. Model calls go host → gateway on 127.0.0.1.
- `run-batch` exits 0 when instances fail and its resume skips `exit_error` instances, so we run
  one instance per `sweagent run` and keep our own records and resume.
- It has no per-instance wall-clock limit: the child is killed, with its container, at ours.
- Its model config has no price registry: the child (`sweagent_launch`) registers the catalog's
  prices with litellm before SWE-agent starts, so its own cost figures are the catalog's and an
  unknown model never errors; its cost limits are 0 (sweboard's gateway keeps the budgets) and
  its call limit is the step limit. Its own retries are off: the gateway retries, once.
- It autosubmits the current diff when a run ends in an error: such a patch is graded like any
  submission, unless the error was infrastructure's (provider, environment), which is never the
  model's result. Exit statuses map onto the same outcome classes as mini's (docs/runners.md).
- The key reaches it as `$SWEBOARD_AGENT_API_KEY` (a dummy: the gateway holds the real one), so
  its saved config holds the variable's name; every file it writes is scrubbed anyway.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from sweboard.dockerutil import remove_labelled_containers
from sweboard.versions import installed_sweagent_source
from sweboard.errors import SweboardError
from sweboard.runners.base import (BATCH_LABEL, CONTAINER_LABEL, Attempt, AttemptResult, child_env, finish,
                                   killed_result, read_json, scrub_files)
from sweboard.runners import sweagent_image, warm
from sweboard.runners.rexbridge import TOKEN_VAR, RexBridge
from sweboard.runners.sweagent_image import SweAgentImage

LAUNCHER = "sweboard.runners.sweagent_launch"
KEY_VAR = "SWEBOARD_AGENT_API_KEY"  # the only key variable the child sees

# SWE-agent's exit statuses -> sweboard's error classes (outcomes.py decides whose they are)
EXIT_CLASSES = {
    "exit_context": "context_overflow",
    "exit_cost": "step_limit",  # per_instance_call_limit = step_limit; cost limits are 0
    "exit_format": "malformed_output",
    "exit_command_timeout": "timeout",
    "exit_total_execution_time": "timeout",
    "exit_forfeit": "agent_error",
    "exit_error": "agent_error",
    "exit_api": "provider_error",
    "exit_environment_error": "infra",
}
INFRA_EXITS = ("exit_api", "exit_environment_error")


def installed_source() -> dict | None:
    """What tools/install_sweagent.sh recorded (source, commit, version), for the manifest."""
    return installed_sweagent_source()


class SweAgentRunner:
    name = "sweagent"

    def __init__(self, python: str | None = None):
        self.python = python or sys.executable
        self.images: dict[str, SweAgentImage] = {}  # row image -> what its attempts start from

    def prepare(self) -> None:
        """Before the batch's threads start: the machine's warm fork host begins importing SWE-agent."""
        if self.available():
            warm.prepare()

    def prepare_images(self, images: list[str], log=print) -> None:
        """Derive (or reuse) SWE-agent's image of every task image, before any attempt's clock."""
        self.images.update(sweagent_image.ensure_all(images, log))

    def image_for(self, row_image: str) -> str:
        if row_image not in self.images:
            self.images[row_image] = sweagent_image.ensure(row_image)
        return self.images[row_image].image

    def image_record(self) -> dict:
        return sweagent_image.record(self.images)

    def version(self) -> str | None:
        try:
            v = version("sweagent")
        except PackageNotFoundError:
            return None
        commit = (installed_source() or {}).get("commit")
        return f"{v} ({commit[:12]})" if commit else v

    def available(self) -> bool:
        v = self.version()
        return bool(v) and not v.startswith("0.") and shutil.which("docker") is not None

    def registry(self, attempt: Attempt) -> dict:
        """The catalog's prices in litellm's model-registry shape, for the name SWE-agent asks for."""
        m = attempt.model
        return {f"openai/{m.id}": {"input_cost_per_token": m.price_per_1k_input / 1000,
                                   "output_cost_per_token": m.price_per_1k_output / 1000,
                                   "litellm_provider": "openai", "mode": "chat",
                                   "max_output_tokens": attempt.config.max_tokens}}

    def arguments(self, attempt: Attempt, problem_file: Path, output_dir: Path, port: int) -> list[str]:
        """SWE-agent's own command line (`sweagent run ...`): no secret on it (the relay's token reaches
        the launcher through its environment, the provider key is a dummy named by variable)."""
        cfg = attempt.config
        model = attempt.model
        return [
            "run",
            f"--agent.model.name=openai/{model.id}",
            f"--agent.model.api_base={attempt.base_url or model.provider.base_url()}",
            f"--agent.model.api_key=${KEY_VAR}",
            f"--agent.model.temperature={cfg.temperature:g}",
            "--agent.model.per_instance_cost_limit=0",
            "--agent.model.total_cost_limit=0",
            f"--agent.model.per_instance_call_limit={cfg.step_limit}",
            f"--agent.model.max_output_tokens={cfg.max_tokens}",
            "--agent.model.retry.retries=0",  # the gateway retries (and counts retries)
            "--env.deployment.type=remote",
            "--env.deployment.host=http://127.0.0.1",
            f"--env.deployment.port={port}",
            "--env.repo.type=preexisting",
            "--env.repo.repo_name=testbed",
            f"--env.repo.base_commit={attempt.row['base_commit']}",
            "--problem_statement.type=text_file",
            f"--problem_statement.path={problem_file}",
            f"--problem_statement.id={attempt.instance_id}",
            f"--output_dir={output_dir}",
        ]

    def spec(self, attempt: Attempt, problem_file: Path, output_dir: Path, port: int) -> dict:
        """What the launcher (`sweagent_launch`) needs, and nothing secret: it is kept in the attempt folder."""
        return {"registry": self.registry(attempt), "args": self.arguments(attempt, problem_file, output_dir, port)}

    def _launch(self, attempt: Attempt, spec_path: Path, env: dict[str, str]):
        """The attempt's SWE-agent: forked from the warm host (imports paid once per machine), or cold."""
        return warm.run_agent(LAUNCHER, spec_path, env, attempt.out_dir / "agent.log", attempt.timeout_seconds,
                              attempt.uid, started=attempt.started, reached=attempt.reached, clean_first=False,
                              python=self.python)

    def run(self, attempt: Attempt, api_key: str | None, secrets: list[str]) -> AttemptResult:
        if not self.available():
            raise SweboardError("runner sweagent: SWE-agent 1.x is not installed in this environment; "
                                "run tools/install_sweagent.sh (docs/runners.md)")
        started = time.monotonic()
        out = attempt.out_dir.resolve()  # the launcher works in this folder: its arguments must not be relative
        out.mkdir(parents=True, exist_ok=True)
        problem = out / "problem_statement.md"
        problem.write_text(attempt.row["problem_statement"])
        sa_out = out / "sweagent"
        remove_labelled_containers(f"{CONTAINER_LABEL}={attempt.uid}")  # left by a killed session
        try:
            image = self.image_for(attempt.row["image"])
        except SweboardError as exc:
            return AttemptResult("error", "EnvironmentStartFailed", "", "infra", str(exc)[:800],
                                 time.monotonic() - started)
        bridge = RexBridge(image, attempt.uid, container_seconds=int(attempt.timeout_seconds) + 120,
                           labels={BATCH_LABEL: attempt.batch_label})
        try:
            bridge.start()
        except SweboardError as exc:
            bridge.stop()
            return AttemptResult("error", "EnvironmentStartFailed", "", "infra", str(exc)[:800],
                                 time.monotonic() - started)
        env = child_env(None, {"LITELLM_LOCAL_MODEL_COST_MAP": "True"})
        if api_key:
            env[KEY_VAR] = api_key
        env[TOKEN_VAR] = bridge.token
        bridge_seconds = time.monotonic() - started
        spec_path = out / "agent_spec.json"
        spec_path.write_text(json.dumps(self.spec(attempt, problem, sa_out, bridge.port), indent=2))
        try:
            child = self._launch(attempt, spec_path, env)
        finally:
            bridge.stop()
            scrub_files(out, [*secrets, bridge.token])
        overhead = None if child.overhead is None else round(child.overhead + bridge_seconds, 3)
        traj_path = sa_out / attempt.instance_id / f"{attempt.instance_id}.traj"
        trajectory = str(traj_path.relative_to(out)) if traj_path.exists() else ""
        calls = _gateway_calls(out / "calls.jsonl")
        if child.code is None:
            return AttemptResult("timeout", "Timeout", "", "timeout",
                                 f"attempt exceeded its {attempt.timeout_seconds:g}s wall-clock limit",
                                 child.seconds, trajectory, overhead_seconds=overhead)
        if child.killed_from_outside:
            return killed_result(child, trajectory, calls, overhead)
        info = (read_json(traj_path) or {}).get("info", {}) if traj_path.exists() else {}
        exit_status = str(info.get("exit_status") or f"exit code {child.code}")
        result = self.result(exit_status, info.get("submission"), calls, time.monotonic() - child.seconds, trajectory)
        result.overhead_seconds = overhead
        return result

    @staticmethod
    def result(exit_status: str, submission: str | None, calls: list[dict], started: float,
               trajectory: str) -> AttemptResult:
        """SWE-agent's exit, in sweboard's terms (the same classes as mini's)."""
        cause = exit_status.removeprefix("submitted (").removesuffix(")") if exit_status.startswith("submitted (") else ""
        if exit_status == "submitted" or (cause and cause not in INFRA_EXITS and submission):
            return finish("Submitted", submission, "", started, trajectory=trajectory)
        key = cause or exit_status
        error_class = EXIT_CLASSES.get(key, "agent_error")
        # With its retries off, SWE-agent reports a provider's failure as `exit_error` (the litellm
        # exception) or `exit_api`: the gateway's record of the last call says whose it was.
        final = [c for c in calls if "will_retry_in_s" not in c and c.get("status") not in ("budget_exhausted", "cancelled")]
        last = final[-1].get("status") if final else None
        if last == 404:
            error_class = "model_unavailable"
        elif error_class in ("agent_error", "provider_error") and last == 429:
            error_class = "rate_limited"
        elif error_class in ("agent_error", "provider_error") and isinstance(last, int) and last >= 500:
            error_class = "provider_error"
        result = finish(key, None, f"SWE-agent: {exit_status}", started, trajectory=trajectory)
        result.error_class = error_class
        return result


def _gateway_calls(path: Path) -> list[dict]:
    from sweboard.gateway import read_calls

    return read_calls(path)
