"""The request's middle stages: reserve the call's worst case in the ledger, forward it upstream, account
for the answer, and retry what is transient (429, 5xx; bounded, honouring Retry-After, never past the
attempt's deadline)."""

from __future__ import annotations

import http.client
import socket
import time
from urllib.parse import urlsplit

from sweboard.errors import SweboardError
from sweboard.gateway.accounting import Account, Upstream, _err_body, _float, _quota_reset, account, call_bound, number
from sweboard.gateway.reply import error, note, record, respond
from sweboard.gateway.route import Route
from sweboard.httpclient import connection

RETRYABLE = {429, 500, 502, 503, 504}


# -- reserve, forward, account ------------------------------------------------------------------
def forward(h, route: Route, payload: bytes) -> None:
    with route.cond:
        route.inflight += 1
    try:
        exchange(h, route, payload)
    finally:
        with route.cond:
            route.inflight -= 1
            route.cond.notify_all()


def ended(h, route: Route) -> bool:
    remaining = route.remaining()
    return route.closed.is_set() or h.state.stopping.is_set() or (remaining is not None and remaining <= 0)


def reserve(h, route: Route, bound: float) -> str | None:
    """A reservation id for one upstream request, or None after answering the refusal (budget
    spent, or a damaged ledger: both stop the batch, resumable)."""
    try:
        refusal, reservation = h.state.ledger.reserve(route.model.provider, bound, route.model.id)
    except SweboardError as exc:
        refusal, reservation = str(exc), None
    if refusal:
        stop_budget(h, route, {"status": "budget_exhausted", "error": refusal}, refusal)
        return None
    note(h, route, {"status": "sent", "reservation": reservation, "bound_usd": round(bound, 8)})
    return reservation


def settle(h, route: Route, reservation: str, acct: Account, base: dict) -> bool:
    """Charge the call; if the ledger was damaged meanwhile, the call (made, maybe billed) is still
    recorded with its cost, and the batch stops spending."""
    try:
        h.state.ledger.settle(route.model.provider, reservation, acct.dollars)
        return True
    except SweboardError as exc:
        route.exhausted = str(exc)
        record(h, route, {"status": acct.status, **base, "cost_usd": round(acct.dollars, 8),
                             "error": f"not settled: {exc}"})
        error(h, 429, "budget_exhausted", f"sweboard: {exc}", {"X-Sweboard-Budget": "exhausted"})
        return False


def stop_budget(h, route: Route, entry: dict, why: str) -> None:
    route.exhausted = why
    record(h, route, entry)
    error(h, 429, "budget_exhausted", f"sweboard: {why}", {"X-Sweboard-Budget": "exhausted"})


def exchange(h, route: Route, payload: bytes) -> None:
    """Reserve → forward → account, retrying transient failures (bounded, never past the deadline)."""
    model, policy = route.model, h.state.policy
    url = model.provider.base_url().rstrip("/") + "/chat/completions"
    bound = call_bound(model, payload, route.max_tokens)
    started, retries, waited = time.monotonic(), 0, 0.0
    while True:
        if ended(h, route):
            record(h, route, {"status": "cancelled", "retries": retries, "backoff_s": round(waited, 2),
                                 "error": "the attempt ended before this call could be made"})
            error(h, 504, "attempt_over", "sweboard: the attempt's time is up")
            return
        reservation = reserve(h, route, bound)
        if reservation is None:
            return
        remaining = route.remaining()
        timeout = policy.upstream_timeout if remaining is None else max(0.1, min(policy.upstream_timeout, remaining))
        up = call(h, route, url, payload, timeout)
        acct = account(route, payload, up, bound)
        base = {"retries": retries, "latency_s": round(up.latency, 3), "reservation": reservation}
        if not settle(h, route, reservation, acct, base):
            return
        if acct.status == 402:  # the provider's own quota (Chutes): a budget stop, not a failure
            why = f"provider quota exhausted until {_quota_reset(up.data)} ({model.provider.name} answered 402)"
            stop_budget(h, route, {"status": 402, **base, "error": why}, why)
            return
        delay = retry_delay(h, route, acct, up, retries)
        if delay is None:
            break
        record(h, route, {"status": acct.status, **base, "retry_after": number(_float(up.retry_after)),
                             "will_retry_in_s": round(delay, 2), **({"error": acct.problem} if acct.problem else {})})
        if route.gate is not None:
            route.gate.retrying(route)  # not a refusal of the model: a serial run would go on too
        retries += 1
        waited += delay
        route.closed.wait(delay)  # unregister ends the wait at once
    respond(h, route, acct, up, base, started, waited, bound)


def retry_delay(h, route: Route, acct: Account, up: Upstream, retries: int) -> float | None:
    """Seconds before the next try of a transient failure, or None when this answer is final."""
    transient = acct.status in RETRYABLE and acct.problem not in (
        "reply too large", "upstream reply is not JSON", "upstream reply is not a JSON object")
    if not transient or retries >= h.state.policy.max_retries or h.state.stopping.is_set() \
            or route.closed.is_set():
        return None
    delay = h.state.policy.delay(retries, up.retry_after)
    remaining = route.remaining()
    return delay if remaining is None or delay < remaining else None


def call(h, route: Route, url: str, payload: bytes, timeout: float) -> Upstream:
    """One upstream request. Never raises; the socket is registered on the route so that
    `unregister` can cut it."""
    t0 = time.monotonic()
    status, data, retry_after, problem = request_upstream(h, route, url, payload, timeout)
    return Upstream(status, route.scrub(data), retry_after, problem, time.monotonic() - t0)


def request_upstream(h, route: Route, url: str, payload: bytes, timeout: float) -> tuple[int, bytes, str | None, str]:
    """(status, body, Retry-After, problem)."""
    parts = urlsplit(url)
    conn = connection(parts, timeout)
    headers = {"Content-Type": "application/json"}
    if route.api_key:
        headers["Authorization"] = f"Bearer {route.api_key}"
    with route.cond:
        route.connections.add(conn)
    cap = h.state.policy.max_reply_bytes
    try:
        if route.closed.is_set():
            return 502, _err_body("cancelled"), None, "the attempt ended during this call"
        conn.request("POST", parts.path + (f"?{parts.query}" if parts.query else ""), body=payload, headers=headers)
        resp = conn.getresponse()
        data = resp.read(cap + 1)
        if len(data) > cap:
            return 502, _err_body("reply_too_large"), None, "reply too large"
        announced = resp.getheader("Content-Length")
        if announced and announced.isdigit() and len(data) < int(announced):
            return 502, _err_body("upstream_truncated"), None, f"upstream reply truncated ({len(data)} of {announced} bytes)"
        return resp.status, data, resp.getheader("Retry-After"), ""
    except (socket.timeout, TimeoutError):
        return 504, _err_body("upstream_timeout"), None, f"no answer within {timeout:.1f}s"
    except (http.client.HTTPException, OSError, ValueError) as exc:
        why = "the attempt ended during this call" if route.closed.is_set() else f"upstream connection failed ({type(exc).__name__})"
        return 502, _err_body("upstream_unreachable"), None, why
    finally:
        with route.cond:
            route.connections.discard(conn)
        conn.close()
