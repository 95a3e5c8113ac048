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
from sweboard.runners.base import CONTAINER_LABEL, ChildRun, remove_labelled_containers, supervise
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
    """Private (0700, ours, not a link): the socket and the token live here."""
    from sweboard.paths import cache_dir

    folder = cache_dir() / "forkhost" / _fingerprint()
    if len(str(folder / SOCKET)) > 100:  # a Unix socket path must be short
        folder = Path(f"/tmp/sweboard-forkhost-{os.getuid()}") / _fingerprint()
    folder.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
    folder.mkdir(mode=0o700, exist_ok=True)
    for path in (folder.parent, folder):  # another user's parent could swap the folder under us
        st = os.lstat(path)
        if st.st_uid != os.getuid() or os.path.islink(path) or not os.path.isdir(path) or st.st_mode & 0o022:
            raise SweboardError(f"{path}: not a private folder of ours; refusing to use it for the fork host")
    os.chmod(folder, 0o700)
    return folder


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
        proc = subprocess.Popen([sys.executable, "-m", "sweboard.runners.forkhost", str(folder)], stdin=subprocess.PIPE,
                                stdout=log, stderr=subprocess.STDOUT, env=_environ_without_secrets(),
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


def run_warm(module: str, spec_path: Path, env: dict[str, str], log_path: Path, timeout: float,
             container_label: str, started=None, reached=None, clean_first: bool = True) -> ChildRun:
    """`run_child` for a module with `main(spec_path) -> int`, forked from the machine's fork host."""
    if clean_first:
        remove_labelled_containers(f"{CONTAINER_LABEL}={container_label}")
    spawned = time.monotonic()
    with log_path.open("ab") as log:
        fork = spawn(module, spec_path, env, log.fileno())
    (log_path.parent / PID_FILE).write_text(str(fork.pid))
    try:
        return supervise(fork, fork.kill, spawned, timeout, container_label, started, reached=reached)
    finally:
        fork.close()  # the lifeline: anything the attempt left in its group goes now
