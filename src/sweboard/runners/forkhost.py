"""The machine's warm fork host: one process that imported mini-swe-agent, SWE-agent (when
installed) and the official evaluator once, forking every attempt and every grading on this
machine — of every batch, every run, every Ray worker process.

Why one per machine, not one per batch: importing litellm and mini-swe-agent costs about 2.7 s of
CPU. A server per batch paid it once per model (19 s of CPU for 7 models on 2 cores, while the
first attempts waited); under Ray, once per worker process (a Ray worker belongs to one batch).
Now it is paid once per machine and code version.

The protocol keeps the host ignorant of paths and secrets: a client (`warm.py`) connects to a
Unix socket in a private folder (0700, owned by us), presents the host's token (read from a 0600
file there), and passes three file descriptors with the request — the attempt's log (stdout and
stderr), an exit pipe (the fork writes its exit code there) and a lifeline (the client holds its
other end; when the client dies, kill -9 included, the fork kills its whole process group). The
fork takes the attempt's environment whole from the request; the host's own environment never
held a key. The host exits after `IDLE_SECONDS` without requests or living forks.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

IDLE_SECONDS = float(os.environ.get("SWEBOARD_FORKHOST_IDLE", "600"))
SOCKET = "host.sock"
TOKEN = "token"
_SET_BY_IMPORTS: dict[str, str] = {}  # variables the preloaded imports set (no key: those were dropped first)


def _watch_lifeline(fd: int) -> None:
    """In the fork: block on the lifeline; its EOF means the client is gone: take the group down."""
    try:
        while os.read(fd, 1):
            pass
    except OSError:
        pass
    os.killpg(0, signal.SIGKILL)


def _run_fork(request: dict, log_fd: int, exit_fd: int, life_fd: int) -> None:
    """In the fork: become the attempt's own session, take its log and environment, run, report."""
    from sweboard.runners.base import die_with_parent

    os.setsid()
    die_with_parent()  # with the host, too
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the host ignores it; the agent waits on its children
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    threading.Thread(target=_watch_lifeline, args=(life_fd,), daemon=True).start()
    os.environ.clear()
    os.environ.update(request["env"])
    for name, value in _SET_BY_IMPORTS.items():  # what the preloaded modules set when imported: they will not
        os.environ.setdefault(name, value)       # set it again here (e.g. litellm's TIKTOKEN_CACHE_DIR, its offline
                                                 # tokenizers, once its tokenizer module is loaded)
    code = 1
    try:
        import importlib

        code = importlib.import_module(request["module"]).main(request["spec_path"])
        code = code if isinstance(code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            os.write(exit_fd, str(code).encode())
        except OSError:
            pass
        os._exit(code)


def _serve_one(conn: socket.socket, token: str, listener: socket.socket, forks: set[int]) -> None:
    msg, fds, _, _ = socket.recv_fds(conn, 1, 3)  # one marker byte: the request line follows it
    with conn.makefile("rb") as f:
        request = json.loads(f.readline() or b"{}")
    try:
        if request.get("token") != token:
            conn.sendall(b'{"error": "bad token"}\n')
            return
        if request.get("ping"):
            conn.sendall(json.dumps({"ok": True, "pid": os.getpid()}).encode() + b"\n")
            return
        if len(fds) != 3 or msg != b"F":
            conn.sendall(b'{"error": "expected log, exit and lifeline descriptors"}\n')
            return
        pid = os.fork()
        if pid == 0:
            listener.close()
            conn.close()
            _run_fork(request, *fds)
        forks.add(pid)
        conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    finally:
        for fd in fds:
            os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def _preload_sweagent() -> None:
    """SWE-agent too, when SWE-agent 1.x is installed here (it is optional: its attempts then start cold)."""
    from importlib.util import find_spec

    if find_spec("sweagent") is None:
        return
    try:
        import sweboard.runners.sweagent_preload  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - e.g. PyPI's 0.0.1 placeholder: its attempts import it themselves
        print(f"fork host: SWE-agent not preloaded ({type(exc).__name__}: {exc})", flush=True)


def serve(folder: Path) -> None:
    token = sys.stdin.readline().strip()
    import tempfile

    config = tempfile.mkdtemp(prefix="sweboard-mswea-")  # a private, empty mini config folder
    os.environ["MSWEA_GLOBAL_CONFIG_DIR"] = config
    before = dict(os.environ)
    import sweboard.runners.mini_preload  # noqa: F401  (the point of this process)

    _preload_sweagent()
    import swebench.harness.run_evaluation  # noqa: F401  (graded in forks too: sweboard/harness_fork.py)

    _SET_BY_IMPORTS.update({k: v for k, v in os.environ.items() if before.get(k) != v})
    if threading.active_count() > 1:  # a fork inherits only the forking thread: locks others hold stay held
        print(f"fork host: threads running before the first fork: {threading.enumerate()}", flush=True)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forks are reaped by the kernel
    path = folder / SOCKET
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    os.chmod(path, 0o600)
    listener.listen(64)
    listener.settimeout(5.0)
    forks: set[int] = set()
    last = time.monotonic()
    try:
        while True:
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                forks = {p for p in forks if _alive(p)}
                if not forks and time.monotonic() - last > IDLE_SECONDS:
                    return
                continue
            last = time.monotonic()
            with conn:
                conn.settimeout(30)
                try:
                    _serve_one(conn, token, listener, forks)
                except (OSError, ValueError):
                    continue
    finally:
        path.unlink(missing_ok=True)
        import shutil

        shutil.rmtree(config, ignore_errors=True)


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
