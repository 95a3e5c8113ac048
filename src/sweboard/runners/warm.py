"""Warm start for mini-swe-agent attempts: a fork server that imported the agent once.

Why: every attempt used to start a fresh interpreter that imports litellm and mini-swe-agent
(2.7 s alone here, 5-6 s when several start at once on two cores), burning CPU that the
attempts running beside it need. The batch starts one `multiprocessing` fork server with those
modules preloaded (`mini_preload`); each attempt is a fork of it, so start-up is the fork plus
the task container.

The forked attempt is treated like the cold child: its own session (so a kill at the limit
takes its `docker` clients too), stdout/stderr into `agent.log`, and exactly the environment
`child_env` built (no key the agent must not see). It dies with the fork server
(PR_SET_PDEATHSIG), and the fork server exits when the batch process goes, kill -9 included.

`SWEBOARD_WARM_START=0` falls back to one fresh interpreter per attempt.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from sweboard.credentials import KEY_SUFFIXES
from sweboard.runners.base import CONTAINER_LABEL, ChildRun, die_with_parent, remove_labelled_containers, supervise

PRELOAD = ["sweboard.runners.mini_preload"]
# What the preloaded imports must see: a private, empty mini config folder, no banner, no price-map download.
SERVER_ENV = {"MSWEA_SILENT_STARTUP": "1", "MSWEA_COST_TRACKING": "ignore_errors",
              "MSWEA_MODEL_RETRY_STOP_AFTER_ATTEMPT": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}

_context = None
_lock = threading.Lock()


def enabled() -> bool:
    return os.environ.get("SWEBOARD_WARM_START", "1") != "0"


def context():
    """This process's fork server (started on first use; the preload runs in it, not here)."""
    global _context
    with _lock:
        if _context is None:
            for key, value in SERVER_ENV.items():
                os.environ.setdefault(key, value)
            if "MSWEA_GLOBAL_CONFIG_DIR" not in os.environ:  # a private, empty mini config folder, gone with us
                folder = tempfile.mkdtemp(prefix="sweboard-mswea-")
                atexit.register(shutil.rmtree, folder, True)
                os.environ["MSWEA_GLOBAL_CONFIG_DIR"] = folder
            # A forked attempt must not re-run the batch's own script: multiprocessing re-imports a
            # `__main__` known only by its file path; named "__main__", it is left alone.
            main = sys.modules.get("__main__")
            if main is not None and getattr(main, "__spec__", None) is None:
                import importlib.machinery

                main.__spec__ = importlib.machinery.ModuleSpec("__main__", None)
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(PRELOAD)
            from multiprocessing import forkserver

            with environ_without_secrets():
                forkserver.ensure_running()
            _context = ctx
        return _context


@contextmanager
def environ_without_secrets():
    """While the fork server starts: no key in this process's environment. A fork's
    /proc/PID/environ is the block its server was started with, whatever the fork later sets
    (`os.environ.clear()` changes Python's view only), so the server must never see a key."""
    from sweboard.credentials import secret_values
    from sweboard.errors import SweboardError

    try:
        values = set(secret_values())
    except SweboardError:
        values = set()
    saved = {k: v for k, v in os.environ.items() if k.endswith(KEY_SUFFIXES) or v in values}
    for k in saved:
        del os.environ[k]
    try:
        yield
    finally:
        os.environ.update(saved)


def _attempt_child(module: str, spec_path: str, log_path: str, env: dict) -> None:
    """In the forked child: become the attempt's own session, log to its file, take its environment, run."""
    os.setsid()
    die_with_parent()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # the server ignores it; the attempt need not
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.environ.clear()
    os.environ.update(env)
    code = 1
    try:
        import importlib

        code = importlib.import_module(module).main(spec_path)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code if isinstance(code, int) else 1)


class _Handle:
    """A forked attempt with Popen's poll()/wait(timeout), for `supervise`."""

    def __init__(self, process):
        self.process = process

    def poll(self):
        return self.process.exitcode

    def wait(self, timeout=None):
        self.process.join(timeout)
        if self.process.exitcode is None:
            raise subprocess.TimeoutExpired("agent", timeout)
        return self.process.exitcode

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.kill()
        except (OSError, ValueError):
            pass
        self.process.join(10)


def run_warm(module: str, spec_path: Path, env: dict[str, str], log_path: Path, timeout: float,
             container_label: str, started=None) -> ChildRun:
    """`run_child` for a module with `main(spec_path) -> int`, forked from the warm server."""
    remove_labelled_containers(f"{CONTAINER_LABEL}={container_label}")
    ctx = context()
    spawned = time.monotonic()
    process = ctx.Process(target=_attempt_child, args=(module, str(spec_path), str(log_path), env), daemon=False)
    process.start()
    handle = _Handle(process)
    try:
        return supervise(handle, handle.kill, spawned, timeout, container_label, started)
    finally:
        process.join(0)
