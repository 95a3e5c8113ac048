"""A task container with no network at all, reachable by SWE-agent through `docker exec` stdio.

Why: SWE-agent drives its container through swe-rex's HTTP server, which its docker
deployment reaches through a published port — impossible under `--network none`, and
`--network host` (or an `--internal` network, which puts containers on private-range
addresses that can reach the host) is not acceptable.

Why not a bind-mounted socket folder (the first design): the container's root is the model.
It could replace the socket by a symlink (to the host's Docker socket: root on the host) or drop
setuid files there. So the host never follows, opens or runs a path the container can write:
there is **no bind mount at all**. swe-rex serves on a Unix socket *inside* the container; one
long-lived `docker exec -i` runs a small multiplexer there (`MUX`), and the only thing that
crosses is a byte stream on its stdin/stdout, framed (`FRAME`) so that many HTTP connections share
it. The Docker daemon, not a path, connects the two sides; the container can only write bytes
into that stream, which the relay parses with bounded frames.

On the host the relay listens on 127.0.0.1 and authenticates every connection before anything is
forwarded: the first request's `X-API-Key` must be this attempt's secret (constant-time compare),
else it answers 401 and closes. The secret never enters the container (swe-rex there runs without
one: whoever could reach it inside already is the container's root), never sits on an argv, and
reaches SWE-agent through its launcher's environment (`sweagent_launch`).

The image must provide swe-rex: `/opt/swerex/bin/python` with `swerex` and `uvicorn` (the
offline images have it). Real SWE-bench images do not; see docs/runners.md.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import struct
import subprocess
import threading
import time
import urllib.request

from sweboard.dockerutil import docker
from sweboard.errors import SweboardError

REX_PYTHON = "/opt/swerex/bin/python"
TOKEN_VAR = "SWEBOARD_REX_TOKEN"  # how the relay's secret reaches SWE-agent: its launcher's environment, never argv
REX_SOCKET = "/run/sweboard-rex.sock"  # inside the container only
SERVE = ("import uvicorn, swerex.server as s; s.AUTH_TOKEN = ''; "
         f"uvicorn.run(s.app, uds='{REX_SOCKET}', log_level='warning')")
FRAME = struct.Struct("!IBI")  # stream id, kind, payload length
OPEN, DATA, CLOSE = 0, 1, 2
MAX_FRAME = 1 << 20  # a larger frame from the container is a protocol error: the stream is dropped
MAX_HEADER = 64 * 1024  # the first request's header block, read before anything is forwarded
AUTH_SECONDS = 10.0
UNAUTHORIZED = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

# Runs inside the container (its own Python, stdlib only): frames on stdin/stdout <-> connections to
# swe-rex's socket. Nothing of the host is reachable from here; it only ever writes to stdout.
MUX = f"""
import os, socket, struct, sys, threading
F = struct.Struct("!IBI"); out = sys.stdout.buffer; lock = threading.Lock(); socks = {{}}
def send(sid, kind, data=b""):
    with lock:
        out.write(F.pack(sid, kind, len(data)) + data); out.flush()
def pump(sid, s):
    try:
        while True:
            data = s.recv(65536)
            if not data: break
            send(sid, 1, data)
    except OSError: pass
    send(sid, 2)
def read(n):
    buf = b""
    while len(buf) < n:
        chunk = sys.stdin.buffer.read(n - len(buf))
        if not chunk: os._exit(0)
        buf += chunk
    return buf
while True:
    sid, kind, n = F.unpack(read(F.size)); data = read(n) if n else b""
    if kind == 0:
        s = socket.socket(socket.AF_UNIX)
        try: s.connect({REX_SOCKET!r})
        except OSError: send(sid, 2); continue
        socks[sid] = s; threading.Thread(target=pump, args=(sid, s), daemon=True).start()
    elif kind == 1 and sid in socks:
        try: socks[sid].sendall(data)
        except OSError: pass
    elif kind == 2 and sid in socks:
        try: socks.pop(sid).shutdown(socket.SHUT_WR)
        except OSError: pass
"""


def authorized(header_block: bytes, token: str) -> bool:
    """True if the request's header block carries `X-API-Key: <token>` (compared in constant time)."""
    for line in header_block.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() == b"x-api-key":
            return hmac.compare_digest(value.strip(), token.encode())
    return False


class Relay:
    """127.0.0.1:PORT -> one `docker exec -i` multiplexer in the container, in a thread of its own.
    Every connection must present the token before a byte is forwarded; `stop()` ends everything."""

    def __init__(self, container: str, token: str):
        self.container = container
        self.token = token
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server = None
        self._mux: asyncio.subprocess.Process | None = None
        self._mux_lock: asyncio.Lock | None = None
        self._streams: dict[int, asyncio.StreamWriter] = {}
        self._next = 0
        self._thread = threading.Thread(target=self._run, name="sweboard-rex-relay", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _ensure_mux(self) -> asyncio.subprocess.Process:
        if self._mux_lock is None:
            self._mux_lock = asyncio.Lock()
        async with self._mux_lock:  # two first connections at once must not start two multiplexers
            return await self._start_mux()

    async def _start_mux(self) -> asyncio.subprocess.Process:
        if self._mux is None or self._mux.returncode is not None:
            self._mux = await asyncio.create_subprocess_exec(
                "docker", "exec", "-i", self.container, REX_PYTHON, "-u", "-c", MUX,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
                start_new_session=True)
            self._streams.clear()
            asyncio.ensure_future(self._demux(self._mux))
        return self._mux

    async def _demux(self, mux: asyncio.subprocess.Process) -> None:
        """Container -> clients. Anything malformed ends the multiplexer (and so its streams)."""
        try:
            while True:
                sid, kind, n = FRAME.unpack(await mux.stdout.readexactly(FRAME.size))
                if n > MAX_FRAME or kind not in (DATA, CLOSE):
                    break
                data = await mux.stdout.readexactly(n) if n else b""
                writer = self._streams.get(sid)
                if writer is None:
                    continue
                if kind == CLOSE:
                    self._streams.pop(sid, None)
                    writer.close()
                else:
                    writer.write(data)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            if mux.returncode is None:
                mux.kill()
            if self._mux is mux:
                for writer in self._streams.values():
                    writer.close()
                self._streams.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), AUTH_SECONDS)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            writer.close()
            return
        if len(head) > MAX_HEADER or not authorized(head, self.token):
            writer.write(UNAUTHORIZED)
            writer.close()
            return
        mux = await self._ensure_mux()
        self._next += 1
        sid = self._next
        self._streams[sid] = writer
        try:
            mux.stdin.write(FRAME.pack(sid, OPEN, 0) + FRAME.pack(sid, DATA, len(head)) + head)
            while data := await reader.read(65536):
                mux.stdin.write(FRAME.pack(sid, DATA, len(data)) + data)
                await mux.stdin.drain()
            mux.stdin.write(FRAME.pack(sid, CLOSE, 0))
            await mux.stdin.drain()
        except (ConnectionError, OSError):
            self._streams.pop(sid, None)
            writer.close()

    def start(self) -> "Relay":
        self._thread.start()
        self._ready.wait(10)
        return self

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._mux is not None and self._mux.returncode is None:
            self._mux.kill()
            try:
                await asyncio.wait_for(self._mux.wait(), 5)
            except (asyncio.TimeoutError, ProcessLookupError):
                pass
        tasks = [t for t in asyncio.all_tasks(self._loop) if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def stop(self) -> None:
        if self._loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            except Exception:  # noqa: BLE001 - stopping: whatever is left goes with the loop
                pass
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


class RexBridge:
    """`with RexBridge(image, label) as b:` → b.port, b.token: a swe-rex server SWE-agent can use."""

    def __init__(self, image: str, label: str, container_seconds: int = 3600, startup_seconds: float = 60.0,
                 labels: dict[str, str] | None = None):
        self.image = image
        self.label = label
        self.labels = labels or {}
        self.container_seconds = container_seconds
        self.startup_seconds = startup_seconds
        self.token = secrets.token_hex(16)
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
        extra = [arg for k, v in self.labels.items() for arg in ("--label", f"{k}={v}")]
        proc = subprocess.run(
            ["docker", "run", "-d", "--rm", "--network", "none", "--pull", "never",
             "--label", f"sweboard.attempt={self.label}", *extra, "--workdir", "/testbed", self.image,
             "timeout", str(self.container_seconds), REX_PYTHON, "-c", SERVE],
            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            detail = " ".join(proc.stderr.strip().splitlines()[-3:])
            raise SweboardError(f"task container did not start ({self.image}): {detail}")
        self.container = proc.stdout.strip()
        self.relay = Relay(self.container, self.token).start()
        deadline = time.monotonic() + self.startup_seconds
        while time.monotonic() < deadline:
            if self.alive():
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
            with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=5) as resp:
                return resp.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.relay is not None:
            self.relay.stop()
        if self.container:
            docker("rm", "-f", self.container, check=False, timeout=120)
            self.container = None
