"""A Docker engine of a worker node's own, for the local cluster: one bridge-less `dockerd` per node.

Why: on real hosts each worker is a Docker host of its own: an image can be present on one and missing
on another, one engine can die under its node, two hosts can hold different image ids. A local cluster
whose workers shared the machine's engine could never show any of that. So each worker gets a daemon
with its own socket, data root, exec root and PID file (`../shared/notes`: several engines run side by
side), started and stopped by the cluster's supervisor; the worker's raylet (and every process it
starts) inherits `DOCKER_HOST` naming that socket.

Nothing networked: `--bridge=none --iptables=false --ip-forward=false --ip-masq=false`, and the engine
listens on its Unix socket only (no `tcp://`). Its socket and exec root live in the cluster's private
temp folder (short paths: a Unix socket path must fit 108 bytes), its data root in the cluster's
private state folder. `docker info`'s ID is the same for two daemons on one machine (a shared key
file): the records tell engines apart by `docker_host` and `docker_root_dir`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sweboard.errors import SweboardError

DOCKERD_FLAGS = ("--bridge=none", "--iptables=false", "--ip-forward=false", "--ip-masq=false")


@dataclass(frozen=True)
class Engine:
    """One worker's Docker engine, as the cluster's state file records it."""

    pid: int
    """The dockerd this supervisor started (stopped by this PID, after checking it is still a dockerd)."""
    docker_host: str
    """`unix://<socket>`: what the worker's raylet has in `DOCKER_HOST`."""
    data_root: str
    """The engine's own image and container store (removed when the cluster goes down)."""
    exec_root: str
    """The engine's runtime state (its containerd's socket too)."""

    def to_dict(self) -> dict:
        return asdict(self)


def can_start() -> str | None:
    """Why this machine cannot give a worker an engine of its own (None when it can)."""
    if shutil.which("dockerd") is None:
        return "dockerd is not installed (tools/ensure_docker.sh installs docker.io)"
    if os.geteuid() != 0:
        return "starting a dockerd needs root"
    return None


def _answers(docker_host: str) -> bool:
    proc = subprocess.run(["docker", "-H", docker_host, "version", "--format", "{{.Server.Version}}"],
                          capture_output=True, text=True, timeout=30, check=False)
    return proc.returncode == 0


def start(index: int, run_folder: Path, data_folder: Path, wait: float = 60.0) -> Engine:
    """Start worker `index`'s dockerd and wait until it answers on its socket."""
    run = run_folder / f"engine-{index}"
    run.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = data_folder / f"engine-{index}"
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    socket_path = run / "docker.sock"
    host = f"unix://{socket_path}"
    argv = ["dockerd", "--data-root", str(data / "data"), "--exec-root", str(run / "exec"),
            "--pidfile", str(run / "docker.pid"), "-H", host, *DOCKERD_FLAGS]
    log = (data / "dockerd.log").open("ab")
    from sweboard.credentials import KEY_SUFFIXES

    # the engine needs no key and no other engine's address
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST" and not k.endswith(KEY_SUFFIXES)}
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, env=env)
    log.close()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SweboardError(f"worker {index}'s dockerd exited ({proc.returncode}); see {data / 'dockerd.log'}")
        if socket_path.exists() and _answers(host):
            return Engine(proc.pid, host, str(data / "data"), str(run / "exec"))
        time.sleep(0.3)
    stop(Engine(proc.pid, host, str(data / "data"), str(run / "exec")))
    raise SweboardError(f"worker {index}'s dockerd did not answer within {wait:g}s; see {data / 'dockerd.log'}")


def _is_dockerd(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].endswith(b"dockerd")
    except OSError:
        return False


def stop(engine: Engine, wait: float = 30.0) -> None:
    """Stop the dockerd by its PID (only if that PID is still a dockerd: never another process)."""
    from sweboard.processes import alive

    if not _is_dockerd(engine.pid):
        return
    os.kill(engine.pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and alive(engine.pid):
        try:
            os.waitpid(engine.pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.2)
    if alive(engine.pid) and _is_dockerd(engine.pid):
        os.kill(engine.pid, signal.SIGKILL)


def remove_data(engine: Engine) -> None:
    """The engine's data root, once the engine is stopped (overlay mounts below it gone with it)."""
    folder = Path(engine.data_root).parent
    if folder.name.startswith("engine-") and folder.is_dir() and not folder.is_symlink():
        shutil.rmtree(folder, ignore_errors=True)


def from_dict(data: dict) -> Engine | None:
    """An engine record read back from the state file (ours, but checked for shape all the same)."""
    try:
        return Engine(int(data["pid"]), str(data["docker_host"]), str(data["data_root"]), str(data["exec_root"]))
    except (KeyError, TypeError, ValueError):
        return None
