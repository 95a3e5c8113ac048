"""The runner contract, and what every runner shares: the child process and its clean-up.

The harness owns the loop; a runner's whole job is "run this one attempt, within this
hard wall-clock limit, and leave a patch and a trajectory". Agents' own limits are not
trusted to be wall-clock limits (SWE-agent has none per instance), so every agent runs
as a child process in its own session that is killed, with its containers, at the limit.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import secrets
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from sweboard.catalog import ModelEntry
from sweboard.credentials import KEY_SUFFIXES
from sweboard.dockerutil import remove_labelled_containers
from sweboard.runconfig import RunnerConfig

CONTAINER_LABEL = "sweboard.attempt"
BATCH_LABEL = "sweboard.batch"  # run + model: a resume removes every container a killed session of its batch left
GATEWAY_KEY = "sk-sweboard-gateway"  # what agents send; the gateway holds the real key
SESSION_FILE = ".session"  # the attempt folder's owner: a child of another session writes nothing there


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
    started: object = None  # a threading.Event set at the agent's first model call (the clock starts there)
    reached: object = None  # a threading.Event set when that call arrived (start-up over, even while it is held)
    session: str = field(default_factory=lambda: secrets.token_hex(8))  # this try of the attempt, in this process

    @property
    def instance_id(self) -> str:
        return self.row["instance_id"]

    @property
    def batch_label(self) -> str:
        return batch_label(self.run_id, self.model.slug)

    @property
    def uid(self) -> str:
        """Unique and label-safe: used to find this attempt's containers."""
        return f"{self.run_id}.{self.model.slug}.{self.instance_id}.{self.index}".lower().replace("/", "_")


def batch_label(run_id: str, model_slug: str) -> str:
    return f"{run_id}.{model_slug}".lower().replace("/", "_")


STATUSES = ("submitted", "empty", "timeout", "error")


@dataclass
class AttemptResult:
    status: str  # submitted | empty | timeout | error
    exit_status: str  # the agent's own word (Submitted, RepeatedFormatError, RateLimitError, ...)
    patch: str = ""
    error_class: str = ""  # see classify(); empty when status is submitted or empty
    error: str = ""  # one line, secrets scrubbed
    duration_seconds: float | None = 0.0  # the agent's time: from its first model call (start-up excluded); None: unknown
    trajectory: str = ""  # path relative to the attempt dir
    model_calls: list[dict] = field(default_factory=list)  # per call: tokens, cost, timestamp
    overhead_seconds: float | None = None  # start-up before the agent's first step (interpreter, imports, container)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_untrusted(cls, data, folder: Path) -> "AttemptResult":
        """An attempt's result as a worker node sent it, taken as data: every field typed and bounded, the
        trajectory kept only when it names a regular file inside the attempt's `folder` (no link, no `..`,
        not absolute). Anything that is not a result at all is the worker's failure: infrastructure's."""
        from sweboard import untrusted as u

        if not isinstance(data, dict) or data.get("status") not in STATUSES:
            return cls("error", "WorkerReplyInvalid", "", "infra", "the worker's answer is not an attempt result")
        error_class = data.get("error_class") if data.get("error_class") in ("", *_ERROR_CLASSES.values(),
                                                                             "agent_error") else "agent_error"
        calls = data.get("model_calls") if isinstance(data.get("model_calls"), list) else []
        keep = ("timestamp", "prompt_tokens", "completion_tokens", "provider_cost")
        calls = [{k: u.finite(c.get(k), 0, 1e12) for k in keep} for c in calls[:10_000] if isinstance(c, dict)]
        trajectory = u.text(data.get("trajectory"), 500)
        if trajectory and u.confined_file(folder, trajectory) is None:
            trajectory = ""
        return cls(data["status"], u.text(data.get("exit_status"), 200), u.text(data.get("patch")), error_class,
                   u.text(data.get("error"), 2000), u.finite(data.get("duration_seconds"), 0, 1e7), trajectory, calls,
                   u.finite(data.get("overhead_seconds"), 0, 1e7))


class Runner(Protocol):
    name: str
    # optional: `metered = False` for a runner whose model calls sweboard did not see (imported
    # predictions): its records' usage is unknown (None), never 0

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
    "NodeLost": "infra",  # the Ray node (or its worker) went away mid-attempt
    "AgentKilled": "infra",  # the agent process died of a signal nobody in the attempt sent
    "WorkerReplyInvalid": "infra",  # a worker node answered with something that is not an attempt result
    "ImageLeaks": "infra",  # the task image's /testbed reaches beyond its base commit (history: strict)
    "EngineUnavailable": "infra",  # the Docker engine did not answer when the attempt began
    "EngineLost": "infra",  # the Docker engine stopped answering during the attempt
}
ENGINE_GONE = ("EngineUnavailable", "EngineLost")  # the node's engine, not the model: leave the node out


def classify(exit_status: str) -> str:
    return _ERROR_CLASSES.get(exit_status, "agent_error")


def finish(exit_status: str, submission: str | None, error: str, started: float, **extra) -> AttemptResult:
    """Turn an agent's exit into our statuses: a submission is submitted or empty; anything else an error."""
    duration = time.monotonic() - started
    if exit_status in ("Submitted", "submitted"):
        patch = submission or ""
        return AttemptResult("submitted" if patch.strip() else "empty", exit_status, patch, "", "", duration, **extra)
    return AttemptResult("error", exit_status, "", classify(exit_status), error, duration, **extra)


def die_with_parent() -> None:
    """In the child, before exec: SIGKILL it when the batch process that started it dies (kill -9 too)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Aborted(KeyboardInterrupt):
    """The batch is being interrupted (Ctrl-C, SIGTERM) while this attempt ran in a worker thread."""


# Set by the batch when it is interrupted: attempts in flight in worker threads (signals reach only the
# main thread) kill their child and containers and end without a record, exactly as the main thread's would.
ABORT = threading.Event()

STARTUP_LIMIT = 300.0  # seconds an agent may take to start (imports, container) before its first step


@dataclass
class ChildRun:
    code: int | None  # None: killed at the limit; < 0: ended by a signal it did not raise itself
    seconds: float  # from the agent's first step (or the start, without a `started` event)
    overhead: float | None  # start-up seconds before the first step; None when it never got there

    @property
    def killed_from_outside(self) -> bool:
        """Ended by a signal we did not send (kill -9 of it or of the fork host, the OOM killer, a crash):
        infrastructure's failure, never the model's."""
        return self.code is not None and self.code < 0


def killed_result(child: ChildRun, trajectory: str = "", calls: list | None = None,
                  overhead: float | None = None) -> AttemptResult:
    """The attempt whose agent process was killed from outside: an infrastructure error (`--resume` runs it again)."""
    return AttemptResult("error", "AgentKilled", "", "infra",
                         f"the agent process was killed by signal {-child.code} from outside (not by its limit); "
                         "--resume runs the attempt again", child.seconds, trajectory, calls or [],
                         overhead if overhead is not None else child.overhead)


def run_child(cmd: list[str], env: dict[str, str], log_path: Path, timeout: float, container_label: str,
              clean_first: bool = True, started=None, startup_limit: float = STARTUP_LIMIT, reached=None,
              cwd: Path | None = None) -> ChildRun:
    """Run `cmd` in its own session, in `cwd` (default: the log's folder, the attempt's own); at the limit
    kill its process group and its containers.

    With `started` (an Event set at the agent's first model call) the `timeout` clock starts there:
    start-up (interpreter, imports, container) is not the model's time, and is returned as overhead
    (bounded by `startup_limit`). The child dies with the batch (PR_SET_PDEATHSIG), and containers left
    by an earlier, killed session of the same attempt are removed first.
    """
    if clean_first:
        remove_labelled_containers(f"{CONTAINER_LABEL}={container_label}")
    spawned = time.monotonic()
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=cwd or log_path.parent, start_new_session=True, preexec_fn=die_with_parent)
        return supervise(proc, lambda: _kill_group(proc), spawned, timeout, container_label, started, startup_limit,
                         reached)


def supervise(proc, kill, spawned: float, timeout: float, container_label: str, started=None,
              startup_limit: float = STARTUP_LIMIT, reached=None) -> ChildRun:
    """Wait for a started child (anything with Popen's `poll()`/`wait(timeout)`) under the attempt's clock;
    `kill()` takes it and its process group down. Its containers are removed on every way out.

    `reached` (the agent's first call arrived) ends start-up: the overhead is measured to it, and the
    start-up limit stops counting while that call is held (the batch's probe gate); the clock starts
    at `started`, when the call goes upstream (a relay may backdate it: `started.backdate` seconds)."""
    clock, overhead, code = spawned, None, None
    try:
        if started is not None:
            while proc.poll() is None and not started.wait(0.05):
                if ABORT.is_set():
                    raise Aborted()
                if reached is not None and reached.is_set():
                    if overhead is None:
                        overhead = round(time.monotonic() - spawned, 3)
                elif time.monotonic() - spawned > startup_limit:
                    break
            if started.is_set():
                clock = time.monotonic() - getattr(started, "backdate", 0.0)
                overhead = overhead if overhead is not None else round(clock - spawned, 3)
        remaining = timeout - (time.monotonic() - clock)
        if proc.poll() is None and overhead is None and started is not None:
            remaining = 0.0  # never reached its first step within the start-up limit
        deadline = time.monotonic() + remaining
        code = proc.poll()
        while code is None and remaining > 0:
            if ABORT.is_set():
                raise Aborted()
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                code = proc.wait(timeout=min(0.2, left))
            except subprocess.TimeoutExpired:
                code = None
        if code is None:
            raise subprocess.TimeoutExpired("agent", timeout)
    except subprocess.TimeoutExpired:
        code = None
        kill()
    except BaseException:  # Ctrl-C / SIGTERM: take the child and its containers down with us
        kill()
        remove_labelled_containers(f"{CONTAINER_LABEL}={container_label}")
        raise
    remove_labelled_containers(f"{CONTAINER_LABEL}={container_label}")
    if overhead is None and started is not None and started.is_set():  # first call landed as the child ended
        overhead = round(time.monotonic() - spawned, 3)
    return ChildRun(code, time.monotonic() - clock, overhead)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def child_env(api_key: str | None, extra: dict[str, str]) -> dict[str, str]:
    """The agent's environment: ours minus every key variable, plus the one key it needs. litellm
    keeps to its bundled price map (it would fetch one from GitHub at import otherwise)."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(KEY_SUFFIXES)}
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    env.update(extra)
    if api_key:
        env["OPENAI_API_KEY"] = api_key
    return env


# A relay secret as SWE-agent writes it into its config.yaml: after a kill -9 the value is no longer
# known to anyone, so a resume finds it by its field name.
TOKEN_FIELD = re.compile(rb"(auth_token[\"']?\s*[:=]\s*[\"']?)[0-9a-f]{16,}")


def scrub_files(directory: Path, secrets: list[str]) -> int:
    """Rewrite every text file under `directory` with any secret value (and any `auth_token` field)
    replaced, whatever the file's name (SWE-agent's `.traj`/`.pred`/`config.yaml` too); binary files
    and links are left alone. Returns how many were rewritten."""
    if not directory.is_dir():
        return 0
    needles = [s.encode() for s in secrets]
    changed = 0
    for path in directory.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if b"\0" in data[:8192]:
            continue
        clean = TOKEN_FIELD.sub(rb"\1***", data) if b"auth_token" in data else data
        for n in needles:
            clean = clean.replace(n, b"***")
        if clean == data:
            continue
        tmp = path.with_name(f".{path.name}.scrub")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, path.stat().st_mode & 0o777)
        with os.fdopen(fd, "wb") as f:
            f.write(clean)
        os.replace(tmp, path)
        changed += 1
    return changed


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
