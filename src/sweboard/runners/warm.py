"""Warm start for agent attempts (mini-swe-agent, SWE-agent): forked from the machine's fork host
(`forkhost.py`).

Why: every attempt used to start a fresh interpreter that imports litellm and the agent (2.7 s for
mini, 3.2 s for SWE-agent here; 5-6 s when several start at once on two cores). The fork host
imported them once for the whole machine; an attempt's start-up is the fork plus the task container.

The forked attempt is treated like the cold child: its own session (so a kill at the limit takes
its `docker` clients too), stdout/stderr into `agent.log`, and exactly the environment
`child_env` built (no key the agent must not see). It dies with the process that asked for it
(kill -9 included: its lifeline pipe closes) and with the host.

`SWEBOARD_WARM_START=0` falls back to one fresh interpreter per attempt.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from sweboard.credentials import KEY_SUFFIXES
from sweboard.errors import SweboardError
from sweboard.isolation import python_argv
from sweboard.runners.base import CONTAINER_LABEL, ChildRun, remove_labelled_containers, run_child, supervise
from sweboard.runners.forkhost import SOCKET, TOKEN

# What the preloaded imports must see: no banner, no price-map download, no retries of their own.
SERVER_ENV = {"MSWEA_SILENT_STARTUP": "1", "MSWEA_COST_TRACKING": "ignore_errors",
              "MSWEA_MODEL_RETRY_STOP_AFTER_ATTEMPT": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
PID_FILE = ".agent-pid"  # beside the attempt's log: which process is its agent (for a look with ps)

_lock = threading.Lock()
_host: tuple[Path, str] | None = None


def enabled() -> bool:
    return os.environ.get("SWEBOARD_WARM_START", "1") != "0"


def _fingerprint() -> str:
    """One host per interpreter and code version: an edited checkout gets a fresh host."""
    from importlib.util import find_spec

    from sweboard.paths import PACKAGE_DIR

    sweagent = getattr(find_spec("sweagent"), "origin", None)  # installed after the host started: a new host
    h = hashlib.sha256(f"{sys.executable}\0{PACKAGE_DIR}\0{sorted(SERVER_ENV.items())}\0{sweagent}".encode())
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        st = path.stat()
        h.update(f"{path}\0{st.st_mtime_ns}\0{st.st_size}\0".encode())
    return h.hexdigest()[:16]


def _folder() -> Path:
    """Private (0700, ours, not a link): the socket and the token live here. Under the cache folder when
    the socket's path fits (a Unix socket path must be short); else in a folder made with `mkdtemp`
    (unpredictable, 0700, ours) whose name a pointer file in the cache folder keeps, so every process of
    ours on the machine finds the same host. A planted or damaged folder is never used, and never stops
    a batch: a new one is made, or the attempt starts cold (`run_agent`)."""
    from sweboard.isolation import private_folder
    from sweboard.paths import cache_dir

    home = private_folder(cache_dir() / "forkhost")
    folder = home / _fingerprint()
    if len(str(folder / SOCKET)) <= 100:
        return private_folder(folder)
    pointer = home / f"{_fingerprint()}.folder"
    try:
        named = Path(pointer.read_text().strip())
        if named.is_absolute() and len(str(named / SOCKET)) <= 100:
            return private_folder(named)
    except (OSError, SweboardError):
        pass
    import tempfile

    made = Path(tempfile.mkdtemp(prefix="sweboard-fh-"))
    tmp = pointer.with_name(f".{pointer.name}.{os.getpid()}.tmp")
    tmp.write_text(str(made))
    os.replace(tmp, pointer)
    return private_folder(made)


def _request(folder: Path, token: str, body: dict, fds: list[int] | None = None, timeout: float = 30) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(folder / SOCKET))
        socket.send_fds(s, [b"F" if fds else b"P"], fds or [])
        s.sendall(json.dumps({**body, "token": token}).encode() + b"\n")
        with s.makefile("rb") as f:
            reply = json.loads(f.readline() or b"{}")
    if "error" in reply or not reply:
        raise SweboardError(f"fork host: {reply.get('error', 'no answer')}")
    return reply


def _ping(folder: Path) -> str | None:
    try:
        token = (folder / TOKEN).read_text().strip()
        _request(folder, token, {"ping": True}, timeout=5)
        return token
    except (OSError, ValueError, SweboardError):
        return None


def _environ_without_secrets() -> dict[str, str]:
    """The host's environment: ours minus every key (its /proc/PID/environ, and its forks', is this block)."""
    from sweboard.credentials import secret_values

    try:
        values = set(secret_values())
    except SweboardError:
        values = set()
    env = {k: v for k, v in os.environ.items() if not k.endswith(KEY_SUFFIXES) and v not in values}
    return {**env, **SERVER_ENV}


def context() -> tuple[Path, str]:
    """This machine's fork host (started on first use, shared by every process here): (folder, token)."""
    global _host
    with _lock:
        if _host is not None and (_host[0] / SOCKET).exists():
            return _host
        from sweboard.locks import file_lock

        folder = _folder()
        with file_lock(folder / "start.lock"):
            token = _ping(folder)
            if token is None:
                token = _start(folder)
        _host = (folder, token)
        return _host


def _start(folder: Path) -> str:
    import secrets

    token = secrets.token_hex(16)
    fd = os.open(folder / TOKEN, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token)
    with (folder / "host.log").open("ab") as log:
        # isolated, in its private folder: nothing of the caller's folder is ever imported (isolation.py)
        proc = subprocess.Popen(python_argv("-m", "sweboard.runners.forkhost", str(folder)), stdin=subprocess.PIPE,
                                stdout=log, stderr=subprocess.STDOUT, env=_environ_without_secrets(), cwd=folder,
                                start_new_session=True)
    proc.stdin.write(f"{token}\n".encode())  # never on argv
    proc.stdin.close()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if _ping(folder) == token:
            return token
        if proc.poll() is not None:
            raise SweboardError(f"the fork host exited ({proc.returncode}); see {folder / 'host.log'}")
        time.sleep(0.1)
    raise SweboardError(f"the fork host did not answer within 120s; see {folder / 'host.log'}")


class _Fork:
    """A forked attempt with Popen's poll()/wait(timeout)/kill(), for `supervise`."""

    def __init__(self, pid: int, exit_fd: int, life_fd: int):
        self.pid, self._exit, self._life = pid, exit_fd, life_fd
        self.code: int | None = None

    def _read(self, timeout: float | None) -> int | None:
        if self.code is not None:
            return self.code
        ready, _, _ = select.select([self._exit], [], [], timeout)
        if not ready:
            return None
        data = b""
        while chunk := os.read(self._exit, 16):  # the fork writes its code, then its end closes
            data += chunk
        self.code = int(data) if data.strip().lstrip(b"-").isdigit() else -signal.SIGKILL
        self.close()
        return self.code

    def poll(self):
        return self._read(0)

    def wait(self, timeout=None):
        code = self._read(timeout)
        if code is None:
            raise subprocess.TimeoutExpired("agent", timeout)
        return code

    def kill(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._read(10)

    def close(self) -> None:
        for fd in (self._exit, self._life):
            try:
                os.close(fd)
            except OSError:
                pass
        self._exit = self._life = -1


def spawn(module: str, spec_path: Path, env: dict[str, str], log_fd: int) -> _Fork:
    folder, token = context()
    exit_r, exit_w = os.pipe()
    life_r, life_w = os.pipe()
    try:
        reply = _request(folder, token, {"module": module, "spec_path": str(spec_path), "env": env},
                         [log_fd, exit_w, life_r])
    except BaseException:
        for fd in (exit_r, life_w):
            os.close(fd)
        raise
    finally:
        os.close(exit_w)
        os.close(life_r)
    return _Fork(int(reply["pid"]), exit_r, life_w)


def prepare() -> None:
    """Before a batch's threads start: the machine's host begins importing (when none runs yet). A host
    that cannot be had is no error here: each attempt then says so in its log and starts cold."""
    if enabled():
        try:
            context()
        except (OSError, ValueError, SweboardError):
            forget()


def forget() -> None:
    """The host did not answer: the next `context()` finds (or starts) it again."""
    global _host
    with _lock:
        _host = None


def spawn_or_none(module: str, spec_path: Path, env: dict[str, str], log_fd: int) -> "_Fork | None":
    """A fork of the machine's host, or None (said in the log) when none can be had: a dead host is
    started again once; a planted folder or a host that will not start means a fresh interpreter."""
    if not enabled():
        return None
    problem = None
    for _ in range(2):
        try:
            return spawn(module, spec_path, env, log_fd)
        except (OSError, ValueError, SweboardError) as exc:
            problem = exc
            forget()
    os.write(log_fd, f"(warm start unavailable: {problem}; a fresh interpreter runs it)\n".encode())
    return None


def run_agent(module: str, spec_path: Path, env: dict[str, str], log_path: Path, timeout: float,
              container_label: str, started=None, reached=None, clean_first: bool = True,
              python: str | None = None) -> ChildRun:
    """An attempt's agent (a module with `main(spec_path) -> int`): forked from the machine's warm host,
    or, with `SWEBOARD_WARM_START=0` or no host to be had, `python -I -m module spec` in the attempt's
    folder. Either way under the attempt's clock (`supervise`)."""
    if clean_first:
        remove_labelled_containers(f"{CONTAINER_LABEL}={container_label}")
    spawned = time.monotonic()
    with log_path.open("ab") as log:
        fork = spawn_or_none(module, spec_path, env, log.fileno())
    if fork is None:
        return run_child(python_argv("-m", module, str(spec_path), python=python), env, log_path, timeout,
                         container_label, clean_first=False, started=started, reached=reached)
    (log_path.parent / PID_FILE).write_text(str(fork.pid))
    try:
        return supervise(fork, fork.kill, spawned, timeout, container_label, started, reached=reached)
    finally:
        fork.close()  # the lifeline: anything the attempt left in its group goes now
