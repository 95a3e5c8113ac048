"""The runner contract, and what every runner shares: the child process and its clean-up.

The harness owns the loop; a runner's whole job is "run this one attempt, within this
hard wall-clock limit, and leave a patch and a trajectory". Agents' own limits are not
trusted to be wall-clock limits (SWE-agent has none per instance), so every agent runs
as a child process in its own session that is killed, with its containers, at the limit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from sweboard.catalog import ModelEntry
from sweboard.credentials import redact
from sweboard.dockerutil import remove_labelled_containers
from sweboard.runconfig import RunnerConfig

CONTAINER_LABEL = "sweboard.attempt"


@dataclass(frozen=True)
class Attempt:
    """One task × one model × one try."""

    run_id: str
    model: ModelEntry
    row: dict
    index: int  # 1-based
    seed: int
    timeout_seconds: float
    out_dir: Path
    config: RunnerConfig
    base_url: str | None = None  # where the agent sends its calls (the gateway's route for this attempt)

    @property
    def instance_id(self) -> str:
        return self.row["instance_id"]

    @property
    def uid(self) -> str:
        """Unique and label-safe: used to find this attempt's containers."""
        return f"{self.run_id}.{self.model.slug}.{self.instance_id}.{self.index}".lower().replace("/", "_")


@dataclass
class AttemptResult:
    status: str  # submitted | empty | timeout | error
    exit_status: str  # the agent's own word (Submitted, RepeatedFormatError, RateLimitError, ...)
    patch: str = ""
    error_class: str = ""  # see classify(); empty when status is submitted or empty
    error: str = ""  # one line, secrets scrubbed
    duration_seconds: float = 0.0
    trajectory: str = ""  # path relative to the attempt dir
    model_calls: list[dict] = field(default_factory=list)  # per call: tokens, cost, timestamp

    def to_dict(self) -> dict:
        return asdict(self)


class Runner(Protocol):
    name: str

    def version(self) -> str | None: ...

    def run(self, attempt: Attempt, api_key: str | None, secrets: list[str]) -> AttemptResult: ...


# Agent exit statuses (exception class names, mostly litellm's) -> error classes.
_ERROR_CLASSES = {
    "RepeatedFormatError": "malformed_output",
    "FormatError": "malformed_output",
    "NotFoundError": "model_unavailable",
    "RateLimitError": "rate_limited",
    "ContextWindowExceededError": "context_overflow",
    "LimitsExceeded": "step_limit",
    "TimeExceeded": "timeout",
    "AuthenticationError": "provider_error",
    "PermissionDeniedError": "provider_error",
    "ServiceUnavailableError": "provider_error",
    "InternalServerError": "provider_error",
    "APIError": "provider_error",
    "APIConnectionError": "provider_error",
    "Timeout": "provider_error",
    "BadRequestError": "provider_error",
    "BadGatewayError": "provider_error",
    "EnvironmentStartFailed": "infra",
    "ImageMissing": "infra",
}


def classify(exit_status: str) -> str:
    return _ERROR_CLASSES.get(exit_status, "agent_error")


def finish(exit_status: str, submission: str | None, error: str, started: float, **extra) -> AttemptResult:
    """Turn an agent's exit into our statuses: a submission is submitted or empty; anything else an error."""
    duration = time.monotonic() - started
    if exit_status in ("Submitted", "submitted"):
        patch = submission or ""
        return AttemptResult("submitted" if patch.strip() else "empty", exit_status, patch, "", "", duration, **extra)
    return AttemptResult("error", exit_status, "", classify(exit_status), error, duration, **extra)


def run_child(cmd: list[str], env: dict[str, str], log_path: Path, timeout: float, container_label: str) -> tuple[int | None, float]:
    """Run `cmd` in its own session; at `timeout` kill its process group and its containers.

    Returns (exit code or None on timeout, seconds).
    """
    start = time.monotonic()
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            code: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        except BaseException:  # Ctrl-C: take the child and its containers down with us
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            remove_labelled_containers(f"{CONTAINER_LABEL}={container_label}")
            raise
    remove_labelled_containers(f"{CONTAINER_LABEL}={container_label}")
    return code, time.monotonic() - start


def child_env(api_key: str | None, extra: dict[str, str]) -> dict[str, str]:
    """The agent's environment: ours minus every key variable, plus the one key it needs."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_TOKEN", "_SECRET"))}
    env.update(extra)
    if api_key:
        env["OPENAI_API_KEY"] = api_key
    return env


def scrub_files(directory: Path, secrets: list[str]) -> None:
    """Rewrite text artifacts with any secret value replaced: belt and braces."""
    if not secrets:
        return
    for path in directory.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".log", ".txt", ".yaml", ".jsonl", ".md", ".patch"):
            text = path.read_text(encoding="utf-8", errors="replace")
            clean = redact(text, secrets)
            if clean != text:
                path.write_text(clean, encoding="utf-8")


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
