"""The request's last stage: the answer to the agent (the provider's reply scrubbed, or a JSON error), and
the call's record in the attempt's `calls.jsonl` (a note before each upstream request, so a kill -9
during it still leaves its trace)."""

from __future__ import annotations

import json
import socket
import time

from sweboard.credentials import redact
from sweboard.gateway.accounting import Account, Upstream, _billed, list_cost, provenance, scrub_reply
from sweboard.gateway.route import Route


def send(h, status: int, body: bytes, headers: dict | None = None):
    try:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.send_header("X-Sweboard-Held-Seconds", f"{getattr(h, 'held_seconds', 0.0):g}")
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError, socket.timeout, OSError):
        pass  # the agent is gone (killed at its deadline): nothing to answer


def error(h, status: int, kind: str, message: str, headers: dict | None = None):
    send(h, status, json.dumps({"error": {"type": kind, "message": message, "code": status}}).encode(),
                headers=headers)


# -- reply ------------------------------------------------------------------------------------
def respond(h, route: Route, acct: Account, up: Upstream, base: dict, started: float, waited: float,
             bound: float) -> None:
    ok = acct.status == 200
    entry = {"status": acct.status, **base, "total_s": round(time.monotonic() - started, 3),
             "backoff_s": round(waited, 2), "prompt_tokens": acct.tokens.get("prompt_tokens"),
             "completion_tokens": acct.tokens.get("completion_tokens"), "token_source": acct.tokens.get("source"),
             **provenance(acct.parsed, route), "cached_tokens": acct.usage.get("cached_tokens"),
             "reasoning_tokens": acct.usage.get("reasoning_tokens"),
             "provider_cost": _billed(acct.usage.get("cost"), bound) if ok else None,
             "cost_list_usd": round(list_cost(route.model, acct.tokens), 8) if ok else None,
             "cost_usd": round(acct.dollars, 8) if (ok or acct.dollars) else None}  # what the ledger was charged
    if acct.flag:
        entry["cost_flag"] = acct.flag
    if acct.problem:
        entry["error"] = acct.problem
    record(h, route, entry)
    if acct.problem:
        error(h, acct.status, "upstream_error", f"sweboard: {acct.problem}")
    else:
        send(h, acct.status, scrub_reply(up.data, route.secrets))


def note(h, route: Route, entry: dict) -> None:
    """A line that is not a call's outcome (a request about to be sent), so that a kill -9 during
    the call still leaves its trace: `read_calls` turns an unanswered one into 'outcome unknown'."""
    with h.state.lock:
        with route.calls_file.open("a") as f:
            f.write(json.dumps({"t": round(time.time(), 3), "model": route.model.id, **entry}) + "\n")


def record(h, route: Route, entry: dict) -> None:
    entry = {"t": round(time.time(), 3), "model": route.model.id, **entry}
    if "error" in entry:
        entry["error"] = redact(str(entry["error"]), list(route.secrets))[:500]
    with h.state.lock:
        route.calls += 1
        with route.calls_file.open("a") as f:
            f.write(json.dumps(entry, allow_nan=False) + "\n")
    if entry.get("status") == 200:
        route.answered.set()
