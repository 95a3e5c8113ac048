"""The gateway's server on 127.0.0.1: the batch's routes, and the handler that takes each request through
its stages — validate (`validate.py`) → reserve → forward → account (`exchange.py`) → reply (`reply.py`)."""

from __future__ import annotations

import secrets as pysecrets
import socket
import threading
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sweboard.catalog import ModelEntry
from sweboard.gateway.exchange import forward
from sweboard.gateway.reply import error, record
from sweboard.gateway.route import ProbeGate, RetryPolicy, Route
from sweboard.gateway.validate import read_request, route_of, start_clock, take_turn
from sweboard.ledger import Ledger

HOST = "127.0.0.1"


@dataclass
class _State:
    ledger: Ledger
    policy: RetryPolicy
    routes: dict[str, Route] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)


class _Handler(BaseHTTPRequestHandler):
    """One request, through the stages: validate -> reserve -> forward -> account -> reply."""

    state: _State
    timeout = 60  # a client that announces more than it sends is dropped, not waited on forever

    def log_message(self, format, *args):
        pass

    def log_error(self, format, *args):
        pass

    def do_GET(self):
        error(self, 404, "invalid_request_error", "the sweboard gateway serves POST .../chat/completions only")

    def do_POST(self):
        route = None
        try:
            route = route_of(self)
            if route is None:
                return
            route.reached.set()  # the agent is up: its start-up is over, whatever waits now
            if not take_turn(self, route):
                return
            start_clock(route)
            payload = read_request(self, route)
            if payload is not None:
                forward(self, route, payload)
            if route.gate is not None:
                route.gate.after_call(route)
        except Exception as exc:  # never a traceback on the terminal: a recorded 502 instead
            message = f"sweboard gateway error: {type(exc).__name__} at {_where(exc)}"
            if route is not None:
                record(self, route, {"status": 502, "retries": 0, "upstream": False, "error": message})
            error(self, 502, "gateway_error", message)


def _where(exc: BaseException) -> str:
    """The failing line as `file.py:123` (no message: it could quote a request's content)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that reset its connection between requests: nothing to record, no traceback


class Gateway:
    """`with Gateway(ledger) as gw: url = gw.register(...)`; binds 127.0.0.1 only."""

    def __init__(self, ledger: Ledger | None = None, policy: RetryPolicy | None = None):
        self.state = _State(ledger=ledger or Ledger(), policy=policy or RetryPolicy())
        handler = type("GatewayHandler", (_Handler,), {"state": self.state})
        self.httpd = _Server((HOST, 0), handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="sweboard-gateway", daemon=True)

    def register(self, model: ModelEntry, api_key: str | None, calls_file: Path, max_tokens: int,
                 deadline: float | None = None, secrets: list[str] | None = None,
                 budget_seconds: float | None = None, answered: threading.Event | None = None,
                 gate: ProbeGate | None = None) -> tuple[str, Route]:
        """A route for one attempt. `deadline` fixes its end; `budget_seconds` starts the clock at the
        agent's first call instead (start-up is not the model's time). `answered` (shared by a batch's
        routes) is set at the first call the provider answers."""
        token = pysecrets.token_hex(8)
        values = sorted({*(secrets or []), *([api_key] if api_key else [])}, key=len, reverse=True)
        route = Route(model, api_key, calls_file, max_tokens, deadline, tuple(v for v in values if len(v) >= 6),
                      budget_seconds)
        if answered is not None:
            route.answered = answered
        route.gate = gate
        with self.state.lock:
            self.state.routes[token] = route
        return f"http://{HOST}:{self.httpd.server_address[1]}/a/{token}/v1", route

    def unregister(self, base_url: str, wait_seconds: float = 10.0) -> None:
        """End the route: no new call, in-flight calls cut and retries stopped; returns once their
        records are written (so nothing lands in calls.jsonl after the attempt's record)."""
        token = base_url.rstrip("/").split("/")[-2]
        with self.state.lock:
            route = self.state.routes.pop(token, None)
        if route is None:
            return
        route.closed.set()
        with route.cond:
            for conn in list(route.connections):
                try:
                    if conn.sock is not None:
                        conn.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            route.cond.wait_for(lambda: route.inflight == 0, timeout=wait_seconds)

    def __enter__(self) -> "Gateway":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.state.stopping.set()
        for token in list(self.state.routes):
            self.unregister(f"/a/{token}/v1", wait_seconds=2.0)
        self.httpd.shutdown()
        self.httpd.server_close()
