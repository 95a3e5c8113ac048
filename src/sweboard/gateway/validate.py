"""The request's first stages: which attempt's route it is for, its turn at the batch's probe gate, the
attempt's clock, and the request body itself (bounded, JSON, non-streaming, its output limit capped)."""

from __future__ import annotations

import json
import socket
import time

from sweboard.gateway.accounting import cap_output
from sweboard.gateway.reply import error, record
from sweboard.gateway.route import Route

MAX_REQUEST_BYTES = 32 * 1024 * 1024


# -- validate ---------------------------------------------------------------------------------
def route_of(h) -> Route | None:
    """The attempt named by `/a/<token>/v1/chat/completions`, or None (answered 404)."""
    parts = h.path.split("/")
    if len(parts) < 4 or parts[1] != "a" or not h.path.rstrip("/").endswith("/chat/completions"):
        error(h, 404, "invalid_request_error", "no such route")
        return None
    route = h.state.routes.get(parts[2])
    if route is None or route.closed.is_set():
        error(h, 404, "invalid_request_error", "unknown attempt token")
        return None
    return route


def take_turn(h, route: Route) -> bool:
    """Hold a first call at the batch's probe gate; the seconds held go back in a header, so a relay
    on another machine starts the attempt's clock where this one does."""
    h.held_seconds = 0.0
    if route.gate is None or route.answered.is_set():
        return True
    began = time.monotonic()
    ok = route.gate.enter(route)
    h.held_seconds = round(time.monotonic() - began, 3)
    if not ok:
        route.refused = "held until its batch stopped"
        error(h, 503, "batch_stopped", "sweboard: the batch stopped before this call could be made")
    return ok


def start_clock(route: Route) -> None:
    with route.cond:
        if not route.first_call.is_set():  # the agent's first step: its clock starts now
            if route.budget_seconds is not None:
                route.deadline = time.monotonic() + route.budget_seconds
            route.first_call.set()


def bad_request(h, route: Route, status: int, message: str) -> None:
    """A client oddity: recorded (nothing was sent upstream, nothing charged) and answered in JSON."""
    record(h, route, {"status": status, "retries": 0, "upstream": False, "error": f"bad request: {message}"})
    error(h, status, "invalid_request_error", message)


def read_request(h, route: Route) -> bytes | None:
    try:
        length = int(h.headers.get("Content-Length") or 0)
    except ValueError:
        bad_request(h, route, 400, "Content-Length is not an integer")
        return None
    if not 0 <= length <= MAX_REQUEST_BYTES:
        bad_request(h, route, 413 if length > 0 else 400, f"request body of {length} bytes")
        return None
    try:
        raw = h.rfile.read(length)
    except (socket.timeout, OSError):
        raw = b""
    if len(raw) != length:
        bad_request(h, route, 400, f"request body truncated ({len(raw)} of {length} bytes)")
        return None
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, RecursionError):
        bad_request(h, route, 400, "body is not JSON")
        return None
    if not isinstance(body, dict):
        bad_request(h, route, 400, "body is not a JSON object")
        return None
    if body.get("stream"):
        bad_request(h, route, 400, "streaming is not supported by the sweboard gateway")
        return None
    body["model"] = route.model.served_id  # the catalog id (or its deliberate alias), whatever the agent said
    cap_output(body, route.max_tokens)
    if route.model.provider.name == "openrouter":
        body["usage"] = {"include": True}  # older API versions report usage.cost only when asked
    return json.dumps(body).encode()
