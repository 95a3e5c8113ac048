"""How an agent on a worker node reaches the controller's gateway, without a key and without the
gateway leaving 127.0.0.1.

Why a relay over Ray instead of binding the gateway to a cluster address: the gateway then never
listens beyond loopback (no port of ours on the cluster's network), its per-attempt route tokens
never cross the network in plain HTTP, and the only channel between hosts is Ray's own (token
authentication, `RAY_AUTH_MODE=token`, and TLS when the cluster sets `RAY_USE_TLS`). The relay
also tells the worker when the agent's first model call went out, so the attempt's clock starts
there on the worker exactly as it does locally.

- `GatewayProxy`: a Ray actor pinned to the controller's node; it forwards a request to the
  gateway on 127.0.0.1 and returns the gateway's answer (already scrubbed of keys there).
- `LoopbackRelay`: inside the attempt's Ray task, an HTTP server on the worker's 127.0.0.1 with
  a fresh secret path token; the agent's base URL points at it.
"""

from __future__ import annotations

import http.client
import json
import secrets as pysecrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FORWARDED_HEADERS = ("content-type", "authorization", "accept")
REQUEST_SECONDS = 3600  # the gateway itself ends a call at the attempt's deadline


class GatewayProxy:
    """The controller side (run as a Ray actor): one per batch, i.e. per gateway.

    Any node of the cluster can call an actor it can name, so the proxy forwards only to routes the
    controller issued for attempts it sent to the cluster (`allow` / `revoke`), and only their
    chat-completions path: a hostile node cannot reach another route, another path of the gateway,
    or anything else on the controller's loopback."""

    def __init__(self, gateway_port: int):
        self.port = gateway_port
        self.routes: set[str] = set()

    def ready(self) -> bool:
        return True

    def allow(self, route: str) -> bool:
        self.routes.add(route.rstrip("/"))
        return True

    def revoke(self, route: str) -> bool:
        self.routes.discard(route.rstrip("/"))
        return True

    def permitted(self, path: str) -> bool:
        route, _, rest = path.partition("/chat/completions")
        return route in self.routes and rest in ("", "/") and ".." not in path

    def post(self, path: str, headers: dict, body: bytes) -> tuple[int, dict, bytes]:
        if not isinstance(path, str) or not self.permitted(path):  # only a route the controller issued
            return 404, {}, b'{"error": {"message": "unknown path"}}'
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_SECONDS)
        try:
            conn.request("POST", path, body=body, headers=headers)
            reply = conn.getresponse()
            keep = ("content-type", "retry-after", "x-sweboard-held-seconds")
            return reply.status, {k: v for k, v in reply.getheaders() if k.lower() in keep}, reply.read()
        except OSError as exc:
            return 502, {"Content-Type": "application/json"}, json.dumps(
                {"error": {"type": "gateway_error", "message": f"relay: gateway unreachable ({type(exc).__name__})"}}).encode()
        finally:
            conn.close()


class LoopbackRelay:
    """The worker side: `http://127.0.0.1:PORT/a/<fresh token>/v1` -> the proxy -> the attempt's route."""

    def __init__(self, proxy, route_path: str, started: threading.Event, reached: threading.Event | None = None):
        self.token = pysecrets.token_hex(16)
        relay = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 60

            def log_message(self, format, *args):
                pass

            def do_GET(self):
                self._answer(404, {}, b'{"error": {"message": "POST only"}}')

            def do_POST(self):
                prefix = f"/a/{relay.token}/v1"
                if not self.path.startswith(prefix + "/"):
                    self._answer(404, {}, b'{"error": {"message": "unknown attempt token"}}')
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if reached is not None:
                    reached.set()  # the agent is up; its first call may still be held at the gateway
                sent = time.monotonic()
                headers = {k: v for k, v in self.headers.items() if k.lower() in FORWARDED_HEADERS}
                try:
                    import ray

                    status, reply_headers, data = ray.get(proxy.post.remote(route_path + self.path[len(prefix):],
                                                                            headers, body))
                except Exception as exc:  # the controller is gone: the agent sees a gateway error
                    status, reply_headers, data = 502, {}, json.dumps(
                        {"error": {"type": "gateway_error", "message": f"relay: {type(exc).__name__}"}}).encode()
                if not started.is_set():  # the clock starts where the gateway released the call
                    held = {k.lower(): v for k, v in reply_headers.items()}.get("x-sweboard-held-seconds", "0")
                    try:
                        started.backdate = max(0.0, time.monotonic() - sent - float(held))
                    except ValueError:
                        started.backdate = 0.0
                    started.set()
                self._answer(status, reply_headers, data)

            def _answer(self, status: int, headers: dict, data: bytes) -> None:
                try:
                    self.send_response(status)
                    headers = {"Content-Type": "application/json", **headers}
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, name="sweboard-relay", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/a/{self.token}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
