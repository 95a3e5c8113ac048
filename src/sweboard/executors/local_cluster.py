"""A Ray cluster on this machine (a head and N worker nodes, all on 127.0.0.1), to try `--cluster`.

Why not `ray start` for the workers: joining a head at 127.0.0.1 makes `ray start` replace the
loopback address with the machine's outward one (and with RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 it
refuses to join at all), which is never allowed here. `ray.cluster_utils.Cluster` starts the
nodes with the address given, so a small supervisor process owns the cluster: `up` starts it
detached and waits for it; `down` stops exactly that process (by the PID it recorded), which
shuts its nodes down. On real hosts use `ray start` (README: More than one machine).

The head offers no `docker_slot`: it is the controller's node (the gateway's relay runs there);
each worker offers `docker_slot` (attempts at once) and `eval_slot` (harness runs at once), and by
default has a Docker engine of its own (`node_engine.py`: a bridge-less dockerd, its own socket and
data root), as each worker of a real cluster is a Docker host of its own; `--shared-engine` puts
every worker on this machine's engine.

Why locked down: a Ray cluster runs whatever code a client submits, as the user who started it.
So the cluster requires a token (`RAY_AUTH_MODE=token`, set explicitly: Ray's default differs by
version and by a token file in `~/.ray`); the token is made here and kept in a 0600 file of a
0700 folder (`RAY_AUTH_TOKEN_PATH` names it; it is never on a command line or in `RAY_AUTH_TOKEN`,
where `ps` or `/proc` would show it); and Ray's temp folder (sockets, logs, session files, which
Ray makes world-writable) lives inside a private folder of its own, so no other local user can
reach a socket or replace a file there. The supervisor runs isolated (`python -I`) in its state
folder.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

for _key, _value in (("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0"), ("RAY_USAGE_STATS_ENABLED", "0")):
    os.environ.setdefault(_key, _value)

from sweboard.errors import SweboardError  # noqa: E402
from sweboard.isolation import private_folder, python_argv  # noqa: E402
from sweboard.paths import cache_dir  # noqa: E402

NODE_ARGS = {"node_ip_address": "127.0.0.1", "include_dashboard": False}
TOKEN_FILE = "auth_token"


def state_dir(name: str = "default") -> Path:
    """The cluster's private folder: its state, log and token."""
    return private_folder(cache_dir() / "ray-local" / name)


def state_file(name: str = "default") -> Path:
    return state_dir(name) / "state.json"


def token_path(name: str = "default") -> Path:
    return state_dir(name) / TOKEN_FILE


def _write_token(path: Path) -> None:
    import secrets

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    os.chmod(path, 0o600)


def auth_env(token_file: Path) -> dict[str, str]:
    """What a process needs to start or join a cluster of ours: token mode, and where the token is."""
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token_file)}


def list_states() -> list[dict]:
    """Every local cluster's state this user's cache knows of (live or not)."""
    out = []
    for path in sorted((cache_dir() / "ray-local").glob("*/state.json")):
        try:
            out.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return out


def read_state(name: str = "default") -> dict | None:
    try:
        return json.loads(state_file(name).read_text())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    from sweboard.processes import alive

    return alive(pid)


def _start_engines(workers: int, name: str, temp_dir: str) -> list:
    """One dockerd per worker (node_engine.py), or none (every worker on the machine's engine)."""
    from sweboard.executors import node_engine

    engines = []
    try:
        for index in range(1, workers + 1):
            engines.append(node_engine.start(index, Path(temp_dir), state_dir(name) / "engines"))
    except BaseException:
        _stop_engines(engines)
        raise
    return engines


def _stop_engines(engines: list) -> None:
    from sweboard.executors import node_engine

    for engine in engines:
        node_engine.stop(engine)
        node_engine.remove_data(engine)


def _add_worker(cluster, slots: int, eval_slots: int, engine):
    """A worker node; with `engine`, its raylet (and so every process it starts) has DOCKER_HOST naming it."""
    before = os.environ.get("DOCKER_HOST")
    if engine is not None:
        os.environ["DOCKER_HOST"] = engine.docker_host
    try:
        return cluster.add_node(**NODE_ARGS, num_cpus=max(1, slots),
                                resources={"docker_slot": slots, "eval_slot": eval_slots})
    finally:
        if before is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = before


def serve(workers: int, slots: int, eval_slots: int, name: str, temp_dir: str, own_engines: bool = False) -> None:
    """The supervisor: bring the nodes up (each worker on an engine of its own when `own_engines`), write
    the state file, wait for SIGTERM, shut them down (nodes first, then their engines)."""
    os.environ.update(auth_env(token_path(name)))  # before Ray is imported: its config is read once
    os.environ.pop("RAY_AUTH_TOKEN", None)
    # Ray's default temp folder (where it writes `ray_current_cluster`, the address a bare ray.init()
    # joins) is the shared /tmp/ray: another user could point our clients elsewhere, and on a fresh
    # machine it does not exist (the head then fails to start). Ours is the private one below.
    os.environ["RAY_TMPDIR"] = str(private_folder(Path(temp_dir)))
    from ray.cluster_utils import Cluster

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    ray_tmp = private_folder(Path(temp_dir)) / "ray"
    engines = _start_engines(workers, name, temp_dir) if own_engines else []
    cluster = None
    try:
        cluster = Cluster(initialize_head=True, head_node_args={**NODE_ARGS, "num_cpus": 0, "temp_dir": str(ray_tmp)})
        nodes = [_add_worker(cluster, slots, eval_slots, engines[i] if engines else None) for i in range(workers)]
        cluster.wait_for_nodes()
        state = {"address": cluster.address, "supervisor_pid": os.getpid(), "workers": [
            {"node_id": n.node_id, "raylet_pid": n.all_processes["raylet"][0].process.pid,
             "engine": engines[i].to_dict() if engines else None} for i, n in enumerate(nodes)],
            "docker_slot": slots, "eval_slot": eval_slots, "auth": "token", "token_path": str(token_path(name)),
            "temp_dir": temp_dir}
        path = state_file(name)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(state, indent=2))
        os.replace(tmp, path)
        while not stop.wait(1.0):
            pass
    finally:
        if cluster is not None:
            cluster.shutdown()
        _stop_engines(engines)
        state_file(name).unlink(missing_ok=True)


def up(workers: int, slots: int, eval_slots: int, name: str = "default", wait: float = 180.0,
       own_engines: bool = True) -> dict:
    state = read_state(name)
    if state and _alive(state["supervisor_pid"]):
        raise SweboardError(f"{state_file(name)}: a local cluster is already up at {state['address']} "
                            f"(supervisor PID {state['supervisor_pid']}); 'down' stops it")
    import tempfile

    path = state_file(name)
    path.unlink(missing_ok=True)
    _write_token(token_path(name))
    temp_dir = tempfile.mkdtemp(prefix="sweboard-ray-")  # 0700, unpredictable; Ray's socket paths must be short
    log = path.with_suffix(".log").open("ab")
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_TOKEN"}
    proc = subprocess.Popen(python_argv("-m", "sweboard.executors.local_cluster", "serve", str(workers),
                                        "--slots", str(slots), "--eval-slots", str(eval_slots), "--name", name,
                                        "--temp-dir", temp_dir, *(["--own-engines"] if own_engines else [])),
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                            cwd=state_dir(name), env={**env, **auth_env(token_path(name))})
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        state = read_state(name)
        if state and state.get("supervisor_pid") == proc.pid:
            return state
        if proc.poll() is not None:
            _failed_up(name, temp_dir)
            raise SweboardError(f"the local cluster did not start (exit {proc.returncode}); see {path.with_suffix('.log')}"
                                + _last_line(path.with_suffix(".log")))
        time.sleep(0.3)
    proc.terminate()  # its finally stops whatever it had started
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
    _failed_up(name, temp_dir)
    raise SweboardError(f"the local cluster was not up within {wait:g}s; see {path.with_suffix('.log')}")


def _failed_up(name: str, temp_dir: str) -> None:
    """A start that failed leaves no token and no temp folder behind (the log stays: it says why)."""
    token_path(name).unlink(missing_ok=True)
    _remove_temp(temp_dir)


def _last_line(log: Path) -> str:
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return f": {lines[-1][-300:]}" if lines else ""


def down(name: str = "default", wait: float = 60.0) -> bool:
    """Stop the supervisor this tool started (by its recorded PID). False when none is up."""
    state = read_state(name)
    if not state or not _alive(state["supervisor_pid"]):
        if state:  # its supervisor was killed: what it started may still run
            _stop_recorded_engines(state)
            _remove_temp(state.get("temp_dir"))
            token_path(name).unlink(missing_ok=True)
        state_file(name).unlink(missing_ok=True)
        return False
    pid = state["supervisor_pid"]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and _alive(pid):
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.3)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    else:
        state_file(name).with_suffix(".log").unlink(missing_ok=True)  # a clean stop: nothing to look into
    _stop_recorded_engines(state)
    _remove_temp(state.get("temp_dir"))
    token_path(name).unlink(missing_ok=True)
    state_file(name).unlink(missing_ok=True)
    _remove_if_empty(name)
    return True


def _remove_if_empty(name: str) -> None:
    """The cluster's state folder once nothing is left in it (a log of a stop that was not clean stays)."""
    folder = state_dir(name)
    for path in (folder / "engines", folder):
        try:
            path.rmdir()
        except OSError:
            return


def _stop_recorded_engines(state: dict) -> None:
    """The workers' engines the state names, still running when their supervisor did not stop them
    (it was killed): stopped by PID, each checked to be a dockerd first."""
    from sweboard.executors import node_engine

    for worker in state.get("workers") or []:
        engine = node_engine.from_dict(worker.get("engine") or {}) if isinstance(worker, dict) else None
        if engine is not None:
            node_engine.stop(engine)
            node_engine.remove_data(engine)


def _remove_temp(folder: str | None) -> None:
    """Ray's private temp folder `up` made (a `sweboard-ray-` folder of ours), and nothing else."""
    import shutil

    if folder and Path(folder).name.startswith("sweboard-ray-") and Path(folder).is_dir() \
            and not Path(folder).is_symlink() and os.lstat(folder).st_uid == os.getuid():
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ray_local_cluster.sh", description=(
        "Start or stop a Ray cluster on this machine: a head (the controller's node) and N worker nodes on "
        "127.0.0.1, each worker offering docker_slot and eval_slot; for trying --cluster on one machine."))
    sub = p.add_subparsers(dest="command", required=True)
    u = sub.add_parser("up", help="start a head and N workers; prints the address for --cluster")
    s = sub.add_parser("serve", help=argparse.SUPPRESS)
    for q in (u, s):
        q.add_argument("workers", type=int, nargs="?", default=2, help="worker nodes (default 2)")
        q.add_argument("--slots", type=int, default=4, help="docker_slot per worker: attempts at once (default 4)")
        q.add_argument("--eval-slots", type=int, default=2, help="eval_slot per worker: harness runs at once (default 2)")
        q.add_argument("--name", default="default", help="a second cluster needs another name")
    s.add_argument("--temp-dir", required=True, help=argparse.SUPPRESS)
    s.add_argument("--own-engines", action="store_true", help=argparse.SUPPRESS)
    u.add_argument("--shared-engine", action="store_true",
                   help="every worker on this machine's Docker engine (default: a bridge-less dockerd of its own "
                        "per worker, which needs root and dockerd)")
    u.add_argument("--dry-run", action="store_true", help="say what would start; start nothing")
    d = sub.add_parser("down", help="stop the cluster 'up' started (by its recorded PID)")
    d.add_argument("--name", default="default")
    d.add_argument("--dry-run", action="store_true", help="say what would stop; stop nothing")
    st = sub.add_parser("status", help="print the address, or exit 1 when none is up")
    st.add_argument("--name", default="default")
    args = p.parse_args(argv)
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", args.name):
        raise SweboardError(f"--name {args.name!r}: expected 1-64 letters, digits, '.', '_' or '-'")
    if args.command == "serve":
        serve(args.workers, args.slots, args.eval_slots, args.name, args.temp_dir, args.own_engines)
        return 0
    if args.command == "up":
        if args.workers < 1 or args.slots < 1 or args.eval_slots < 1:
            raise SweboardError("up: workers, --slots and --eval-slots must be whole numbers >= 1")
        engines = "this machine's Docker engine" if args.shared_engine else "a Docker engine of its own"
        if args.dry_run:
            print(f"would start a head and {args.workers} workers on 127.0.0.1 (docker_slot {args.slots}, "
                  f"eval_slot {args.eval_slots}, {engines} each); state in {state_file(args.name)}")
            return 0
        if not args.shared_engine:
            from sweboard.executors.node_engine import can_start

            why = can_start()
            if why:
                raise SweboardError(f"up: each worker gets a Docker engine of its own, but {why}; "
                                    "--shared-engine puts every worker on this machine's engine")
        state = up(args.workers, args.slots, args.eval_slots, args.name, own_engines=not args.shared_engine)
        hosts = [w["engine"]["docker_host"] for w in state["workers"] if w.get("engine")]
        print(f"up: head + {len(state['workers'])} workers, token auth (RAY_AUTH_TOKEN_PATH={state['token_path']}); "
              + (f"engines {', '.join(hosts)}; " if hosts else "one shared Docker engine; ")
              + f"--cluster {state['address']}")
        print(state["address"])
        return 0
    state = read_state(args.name)
    if args.command == "status":
        if state and _alive(state["supervisor_pid"]):
            print(state["address"])
            return 0
        print("no local cluster is up", file=sys.stderr)
        return 1
    if args.dry_run:
        print(f"would stop supervisor PID {state['supervisor_pid']}" if state else "nothing to stop")
        return 0
    print("down: stopped" if down(args.name) else "down: no local cluster was up")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SweboardError as exc:
        print(f"ray_local_cluster: {exc}", file=sys.stderr)
        sys.exit(2)
