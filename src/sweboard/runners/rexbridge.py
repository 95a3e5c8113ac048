"""A task container with no network at all, reachable by SWE-agent through a Unix socket.

Why: SWE-agent drives its container through swe-rex's HTTP server, which its docker
deployment reaches through a published port — impossible under `--network none`, and
`--network host` (or an `--internal` network, which puts containers on private-range
addresses that can reach the host) is not acceptable. So the container runs with
`--network none` and a bind-mounted folder; inside it swe-rex's app serves on a Unix socket
in that folder, guarded by a random token per attempt; on the host a small relay on
127.0.0.1 forwards TCP to that socket; SWE-agent's `remote` deployment points at the relay.
Model traffic does not go through the container at all: SWE-agent (on the host) calls the
gateway on 127.0.0.1.

The image must provide swe-rex: `/opt/swerex/bin/python` with `swerex` and `uvicorn` (the
offline images have it). Real SWE-bench images do not; see docs/runners.md.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from sweboard.dockerutil import docker
from sweboard.errors import SweboardError

REX_PYTHON = "/opt/swerex/bin/python"
SERVE = ("import os, uvicorn, swerex.server as s; s.AUTH_TOKEN = os.environ['SWEREX_AUTH_TOKEN']; "
         "uvicorn.run(s.app, uds='/sock/rex.sock', log_level='warning')")


class Relay:
    """127.0.0.1:PORT <-> a Unix socket, in a thread of its own; `stop()` closes every connection."""

    def __init__(self, socket_path: Path):
        self.socket_path = str(socket_path)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server = None
        self._thread = threading.Thread(target=self._run, name="sweboard-rex-relay", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, reader, writer) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(self.socket_path)
        except OSError:
            writer.close()
            return

        async def pipe(src, dst):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def start(self) -> "Relay":
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        def shutdown():
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            self._loop.stop()
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(shutdown)
        self._thread.join(timeout=5)


class RexBridge:
    """`with RexBridge(image, label) as b:` → b.port, b.token: a swe-rex server SWE-agent can use."""

    def __init__(self, image: str, label: str, container_seconds: int = 3600, startup_seconds: float = 60.0):
        self.image = image
        self.label = label
        self.container_seconds = container_seconds
        self.startup_seconds = startup_seconds
        self.token = secrets.token_hex(16)
        self.folder = Path(tempfile.mkdtemp(prefix="sbrex-"))  # short: a Unix socket path has ~108 bytes
        self.folder.chmod(0o755)
        self.container: str | None = None
        self.relay: Relay | None = None

    @property
    def port(self) -> int:
        return self.relay.port if self.relay else 0

    def __enter__(self) -> "RexBridge":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        # The token goes in through the environment of the docker client, not its command line.
        import os

        env = {**os.environ, "SWEREX_AUTH_TOKEN": self.token}
        import subprocess

        proc = subprocess.run(
            ["docker", "run", "-d", "--rm", "--network", "none", "--pull", "never",
             "--label", f"sweboard.attempt={self.label}", "-e", "SWEREX_AUTH_TOKEN",
             "-v", f"{self.folder}:/sock", "--workdir", "/testbed", self.image,
             "timeout", str(self.container_seconds), REX_PYTHON, "-c", SERVE],
            capture_output=True, text=True, env=env, timeout=300)
        if proc.returncode != 0:
            detail = " ".join(proc.stderr.strip().splitlines()[-3:])
            raise SweboardError(f"task container did not start ({self.image}): {detail}")
        self.container = proc.stdout.strip()
        self.relay = Relay(self.folder / "rex.sock").start()
        deadline = time.monotonic() + self.startup_seconds
        while time.monotonic() < deadline:
            if (self.folder / "rex.sock").exists() and self.alive():
                return
            state = docker("inspect", "--format", "{{.State.Running}}", self.container, check=False, timeout=30)
            if state.stdout.strip() != "true":
                logs = docker("logs", "--tail", "5", self.container, check=False, timeout=30)
                raise SweboardError(f"swe-rex did not start in {self.image} (needs {REX_PYTHON} with swerex and "
                                    f"uvicorn): {' '.join((logs.stdout + logs.stderr).split())[-300:]}")
            time.sleep(0.2)
        raise SweboardError(f"swe-rex in {self.image} did not answer within {self.startup_seconds:g}s")

    def alive(self) -> bool:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/is_alive", headers={"X-API-Key": self.token})
        try:
            with urllib.request.urlopen(request, timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.relay is not None:
            self.relay.stop()
        if self.container:
            docker("rm", "-f", self.container, check=False, timeout=120)
            self.container = None
        shutil.rmtree(self.folder, ignore_errors=True)
