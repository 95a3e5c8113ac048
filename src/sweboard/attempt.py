"""One attempt as a plain unit: inputs in, a scrubbed folder and a result out.

Every executor calls `run_attempt` the same way: the local one in a thread of the batch, the
Ray one in a task on a worker node (`executors/`). What stays with the batch (the caller) is
everything with a key or a shared state: the gateway route, the record, the stop rules.
Here is only what must happen on the machine whose Docker runs the task: the image check, the
runner, and the scrub of every file the attempt left, on every way out.
"""

from __future__ import annotations

import functools
import os
import socket

from sweboard.errors import SweboardError
from sweboard.runners.base import Attempt, AttemptResult, Runner, scrub_files


def run_attempt(attempt: Attempt, runner: Runner, api_key: str | None, secrets: list[str]) -> AttemptResult:
    """Run one attempt in `attempt.out_dir` on this machine. A missing task image is infrastructure's
    failure (no container, no agent, no call), never the model's; the folder is scrubbed however it ends.
    A runner that starts no container (imported predictions) says so with `needs_task_image = False`."""
    attempt.out_dir.mkdir(parents=True, exist_ok=True)
    uses_engine = not attempt.model.is_baseline and getattr(runner, "needs_task_image", True)
    if uses_engine:
        from sweboard.dockerutil import engine_version
        from sweboard.task_images import image_problem

        if engine_version() is None:
            return AttemptResult("error", "EngineUnavailable", "", "infra", _engine_gone("does not answer"))
        missing = image_problem(attempt.row["image"])
        if missing:
            return AttemptResult("error", "ImageMissing", "", "infra", missing)
    try:
        result = runner.run(attempt, api_key, secrets)
    except SweboardError as exc:
        result = AttemptResult("error", "SweboardError", error_class="agent_error", error=str(exc))
    finally:
        scrub_files(attempt.out_dir, secrets)  # every exit path: done, error, Ctrl-C, SIGTERM
    return engine_checked(result) if uses_engine else result


def engine_checked(result: AttemptResult) -> AttemptResult:
    """The attempt as infrastructure's failure when the engine is gone at its end: the agent's commands
    failed for a reason that was never the model's (whatever the agent then did or submitted)."""
    from sweboard.dockerutil import engine_version

    if engine_version() is not None:
        return result
    from dataclasses import replace

    # the calls made stay counted (they were billed); the patch is not graded
    return replace(result, status="error", exit_status="EngineLost", patch="", error_class="infra",
                   error=_engine_gone(f"stopped answering during the attempt (it ended {result.exit_status})"))


def _engine_gone(what: str) -> str:
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    return f"the Docker engine at {host} {what}; --resume runs the attempt again"


@functools.lru_cache(maxsize=4)
def engine_root(host: str | None) -> str | None:
    """The engine's data root (`docker info`): with the socket, what tells two engines on one machine
    apart (their `ID` comes from a shared key file and can be the same)."""
    from sweboard.dockerutil import docker

    try:
        proc = docker("info", "--format", "{{.DockerRootDir}}", check=False, timeout=30)
    except SweboardError:
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def engine_id() -> str | None:
    """This machine's Docker engine id (`docker info`), or None when none answers."""
    from sweboard.dockerutil import docker

    try:
        proc = docker("info", "--format", "{{.ID}}", check=False, timeout=30)
    except SweboardError:
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def node_facts(image: str | None = None, ray_node_id: str | None = None) -> dict:
    """Where an attempt (or a grading) ran: host, Docker engine, the image's id there, the Ray node."""
    from sweboard.dockerutil import image_id

    docker_host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    facts = {"host": socket.gethostname(), "pid": os.getpid(), "docker_engine_id": engine_id(),
             "docker_host": docker_host, "docker_root_dir": engine_root(docker_host),
             "image_id": image_id(image) if image else None}
    if ray_node_id:
        facts["ray_node_id"] = ray_node_id
    return facts
