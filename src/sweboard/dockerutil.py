"""Small wrappers around the docker CLI: presence checks, labels, forced cleanup.

The CLI (not the SDK) is used for builds and cleanup because its output is what an
operator would see and can paste into a terminal.
"""

from __future__ import annotations

import json
import os
import subprocess

from sweboard.errors import SweboardError


def docker(*args: str, check: bool = True, timeout: float | None = 600, capture: bool = True,
           input_text: str | None = None) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(["docker", *args], capture_output=capture, text=True, timeout=timeout, input=input_text)
    except FileNotFoundError:
        raise SweboardError("docker: command not found; run tools/ensure_docker.sh") from None
    if check and proc.returncode != 0:
        err = (proc.stderr or "").strip().splitlines()
        raise SweboardError(f"docker {args[0]} failed: {err[-1] if err else 'exit ' + str(proc.returncode)}")
    return proc


def engine_version() -> str | None:
    proc = docker("version", "--format", "{{.Server.Version}}", check=False, timeout=30)
    return proc.stdout.strip() if proc.returncode == 0 else None


def require_engine() -> None:
    if engine_version() is None:
        host = os.environ.get("DOCKER_HOST")
        if host:  # that engine is the one meant: never advise starting another
            raise SweboardError(f"the Docker engine at DOCKER_HOST={host} does not answer; start it, or unset DOCKER_HOST")
        raise SweboardError("no Docker engine answers 'docker info'; run tools/ensure_docker.sh")


def image_id(tag: str) -> str | None:
    """The local image id behind a name, or None when it is not on this machine."""
    proc = docker("image", "inspect", "--format", "{{.Id}}", tag, check=False, timeout=60)
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None


def image_labels(tag: str) -> dict[str, str] | None:
    """Labels of a local image, or None if it does not exist locally."""
    proc = docker("image", "inspect", "--format", "{{json .Config.Labels}}", tag, check=False, timeout=60)
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout.strip() or "null") or {}


def remove_named_containers(names: list[str] | tuple[str, ...]) -> int:
    """Force-remove every container named exactly one of `names` (or one of them plus a `.` suffix: the
    official harness renames a container it finds in its way); returns how many."""
    wanted = set(names)
    if not wanted:
        return 0
    proc = docker("ps", "-a", "--format", "{{.Names}}", check=False, timeout=60)
    found = [n for n in proc.stdout.split() if n in wanted or n.rsplit(".", 1)[0] in wanted]
    if found:
        docker("rm", "-f", *found, check=False, timeout=120)
    return len(found)


def remove_labelled_containers(label: str) -> int:
    """Force-remove every container carrying `label` (key=value); returns how many."""
    proc = docker("ps", "-aq", "--filter", f"label={label}", check=False, timeout=60)
    ids = proc.stdout.split()
    if ids:
        docker("rm", "-f", *ids, check=False, timeout=120)
    return len(ids)
