"""One metered gateway on 127.0.0.1 for all model traffic of a batch.

Agents (mini-swe-agent, SWE-agent) are pointed at `http://127.0.0.1:PORT/a/<token>/v1`
with a dummy key; the token names the attempt. The gateway is the one place that sees every
call, whatever the runner:

- it records per call the provider-reported usage (numbers only: `prompt_tokens`,
  `completion_tokens`, a validated `usage.cost`), status, latency and retries, into the
  attempt's `calls.jsonl`;
- it asks the ledger *before* each upstream call, holding the call's worst-case cost until
  the call settles (parallel calls cannot overshoot a dollar cap together), and refuses with a
  429 of type `budget_exhausted` when a quota or cap is spent; a provider's own quota answer
  (HTTP 402, Chutes) stops the batch the same way;
- it retries 429 and 5xx with exponential backoff honouring `Retry-After`, bounded, and never
  past the attempt's deadline;
- it holds the real keys, so agents' configs, logs and trajectories never see them: every
  upstream body is redacted of them before anyone reads it, and no upstream header is passed on.

Why a hostile upstream is assumed: the provider's reply is the one input sweboard does not
control. A reply may echo the key, be huge, truncated or not JSON, carry absurd usage numbers
or never come. Each oddity becomes a recorded 4xx/5xx with a JSON error, never a traceback, a
leak, a NaN in the ledger, or a call that outlives its attempt: `unregister` ends a route's
in-flight calls and retries and returns only when their records are written.

Why not LiteLLM's proxy: its budgets need a database and its spend is computed from
litellm's price map, not the provider's word; per-attempt attribution would need virtual
keys per attempt. A few hundred lines of stdlib keep the numbers exact and the pipeline thin.
Only non-streaming chat completions are supported (the agents used here do not stream).
"""

from __future__ import annotations

import http.client
import json
import math
import secrets as pysecrets
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from sweboard.catalog import ModelEntry
from sweboard.credentials import redact
from sweboard.errors import SweboardError
from sweboard.httpclient import connection
from sweboard.ledger import Ledger

HOST = "127.0.0.1"
RETRYABLE = {429, 500, 502, 503, 504}
MAX_REQUEST_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    upstream_timeout: float = 300.0  # never more than the attempt's remaining time
    max_reply_bytes: int = 8 * 1024 * 1024  # a larger upstream reply is refused (502), not passed on

    def delay(self, retry: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                value = float(retry_after)
                if math.isfinite(value):
                    return min(self.max_delay, max(0.0, value))
            except ValueError:
                pass
        return min(self.max_delay, self.base_delay * 2 ** retry)


@dataclass
class Route:
    """One attempt's route: where its calls go, with which key, where they are recorded, until when."""

    model: ModelEntry
    api_key: str | None
    calls_file: Path
    max_tokens: int
    deadline: float | None = None  # time.monotonic() at which the attempt's wall clock runs out
    secrets: tuple[str, ...] = ()
    budget_seconds: float | None = None  # the attempt's clock: it starts at the agent's first call
    first_call: threading.Event = field(default_factory=threading.Event)
    exhausted: str | None = None  # set when a budget (ours or the provider's quota) refused a call
    answered: threading.Event = field(default_factory=threading.Event)  # set at the first call the provider answered (200)
    gate: "ProbeGate | None" = None  # the batch's probe: first calls wait here until the provider answered one
    reached: threading.Event = field(default_factory=threading.Event)  # the agent's first request arrived (start-up over)
    refused: str | None = None  # its held first call was refused: the batch stopped while it waited
    calls: int = 0
    closed: threading.Event = field(default_factory=threading.Event)
    inflight: int = 0
    connections: set = field(default_factory=set)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def scrub(self, data: bytes) -> bytes:
        for value in self.secrets:
            data = data.replace(value.encode(), b"***")
        return data


class ProbeGate:
    """Until the provider has answered one call of a batch, its first calls go upstream only as a
    serial run would make them.

    Why a gate on calls, not on attempts: every attempt may start its container and agent while
    the first call (the probe) is in flight; only their first calls wait. A retired model or a
    failing provider still costs what it would serially:
    - one probe at first; a retired model's 404 stops the batch before a second call is made;
    - once every probe in flight has failed in a way the gateway retries (5xx, 429, a timeout: not
      a refusal of the model), a serial run would go on to the next attempt whatever that probe's
      end, until the failure streak trips — so up to `width - streak` probes (`width` is the
      batch's `provider_failure_streak`, `streak` its attempts in a row without an answer so far)
      go at once, and a down provider trips the streak in one probe's time, not `width` of them;
    - a probe that was not answered keeps its place until its batch has recorded the attempt
      (`done`), so the streak is counted before the next call goes; when the batch stops, every
      held call is refused (`stop`).
    """

    def __init__(self, answered: threading.Event, width: int = 1):
        self.answered = answered
        self.width = max(1, width)
        self._cv = threading.Condition()
        self._holders: dict[int, list] = {}  # id(route) -> [route, seen failing in a way the gateway retries]
        self._limit = self.width
        self.stopped = threading.Event()

    def enter(self, route: Route) -> bool:
        """Wait for this call's turn; False when the batch stopped (or the attempt ended) meanwhile."""
        with self._cv:
            while not self.answered.is_set():
                if self.stopped.is_set() or route.closed.is_set():
                    return False
                if id(route) in self._holders:
                    return True  # the probing attempt's own next calls (retried by its agent)
                if not self._holders or (len(self._holders) < self._limit
                                         and all(retried for _, retried in self._holders.values())):
                    self._holders[id(route)] = [route, False]
                    return True
                self._cv.wait(0.2)
            return True

    def retrying(self, route: Route) -> None:
        """The gateway will retry this probe's call: a failure a serial run meets too; more may go."""
        with self._cv:
            if id(route) in self._holders:
                self._holders[id(route)][1] = True
                self._cv.notify_all()

    def after_call(self, route: Route) -> None:
        """The probe was answered: everyone goes (`answered` lets the rest pass)."""
        if self.answered.is_set():
            with self._cv:
                self._holders.clear()
                self._cv.notify_all()

    def done(self, route: Route, streak: int = 0) -> None:
        """The batch recorded this attempt (`streak`: its attempts in a row without an answer, now):
        a probe that never got an answer frees its place for the next."""
        with self._cv:
            self._holders.pop(id(route), None)
            self._limit = max(1, self.width - streak)
            self._cv.notify_all()

    def stop(self) -> None:
        self.stopped.set()
        with self._cv:
            self._cv.notify_all()


@dataclass
class _State:
    ledger: Ledger
    policy: RetryPolicy
    routes: dict[str, Route] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)


def number(value) -> float | int | None:
    """A finite, non-boolean number, else None: the only kind of usage field ever recorded."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return value


def read_usage(body) -> dict:
    """Provider-reported usage as numbers (missing or odd fields are None, never strings or NaN)."""
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        usage = {}
    prompt_details = usage.get("prompt_tokens_details") if isinstance(usage.get("prompt_tokens_details"), dict) else {}
    completion_details = (usage.get("completion_tokens_details")
                          if isinstance(usage.get("completion_tokens_details"), dict) else {})
    count = lambda v: v if number(v) is not None and v >= 0 else None  # noqa: E731
    return {"prompt_tokens": count(usage.get("prompt_tokens")), "completion_tokens": count(usage.get("completion_tokens")),
            "cached_tokens": count(prompt_details.get("cached_tokens")),
            "reasoning_tokens": count(completion_details.get("reasoning_tokens")),
            "cost": usage.get("cost")}


def token_counts(usage: dict, payload: bytes, reply) -> dict:
    """Provider-reported tokens when both counts are given; else the documented approximation
    (4 characters a token, of the request body and the reply's message), marked as such."""
    if usage.get("prompt_tokens") is not None and usage.get("completion_tokens") is not None:
        return {"prompt_tokens": usage["prompt_tokens"], "completion_tokens": usage["completion_tokens"],
                "source": "provider"}
    message = ""
    try:
        message = json.dumps(reply["choices"][0]["message"])
    except (KeyError, IndexError, TypeError):
        pass
    return {"prompt_tokens": usage.get("prompt_tokens") if usage.get("prompt_tokens") is not None else math.ceil(len(payload) / 4),
            "completion_tokens": (usage.get("completion_tokens") if usage.get("completion_tokens") is not None
                                  else math.ceil(len(message) / 4)),
            "source": "approx"}


def _label(value, route: Route) -> str | None:
    """An upstream string fit for a record: short, printable, redacted."""
    if not isinstance(value, str):
        return None
    clean = "".join(c for c in value[:120] if c.isprintable())
    return redact(clean, list(route.secrets)) or None


def provenance(reply, route: Route) -> dict:
    """Which generation served the call: the provider's response id, the model it says it served,
    and (OpenRouter) the upstream provider behind it."""
    if not isinstance(reply, dict):
        return {}
    return {"response_id": _label(reply.get("id"), route), "served_model": _label(reply.get("model"), route),
            "upstream_provider": _label(reply.get("provider"), route)}


def list_cost(model: ModelEntry, usage: dict) -> float:
    """Catalog prices x provider-reported tokens (the plan's formula)."""
    return ((usage.get("prompt_tokens") or 0) * model.price_per_1k_input
            + (usage.get("completion_tokens") or 0) * model.price_per_1k_output) / 1000


def cost_of(model: ModelEntry, usage: dict, bound: float | None = None) -> tuple[float, str]:
    """(dollars, flag). The provider's `usage.cost` when it is a finite number within 0 and the call's
    bound; otherwise catalog prices x tokens, and the flag says why the provider's figure was not used."""
    raw = usage.get("cost")
    if raw is None:
        return list_cost(model, usage), ""
    value = number(raw)
    if value is not None and value >= 0 and (bound is None or value <= bound):
        return float(value), ""
    why = (f"a {type(raw).__name__}" if value is None else
           ("negative" if value < 0 else "above the call's bound"))
    return list_cost(model, usage), f"provider cost rejected ({why}); priced from tokens"


def cap_output(body: dict, max_tokens: int) -> None:
    """The request's output limit, capped at the attempt's `max_tokens`: the call's reserved bound
    holds only if the provider cannot be asked for more."""
    asked = [k for k in ("max_tokens", "max_completion_tokens") if k in body]
    for k in asked:
        value = body[k]
        valid = isinstance(value, int) and not isinstance(value, bool) and value > 0
        body[k] = min(value, max_tokens) if valid else max_tokens
    if not asked:
        body["max_tokens"] = max_tokens


def call_bound(model: ModelEntry, payload: bytes, max_tokens: int) -> float:
    """The worst case for one call, reserved before it is sent: every prompt byte a token, and
    `max_tokens` of output (the gateway caps the request's own limit at it)."""
    return (len(payload) * model.price_per_1k_input + max_tokens * model.price_per_1k_output) / 1000


def scrub_reply(data: bytes, secrets: tuple[str, ...]) -> bytes:
    """A reply with every secret removed as the agent will read it: in the raw bytes, and in the
    decoded JSON strings (a key spelled with `\\u` escapes passes a byte match, not the decoder)."""
    for value in secrets:
        data = data.replace(value.encode(), b"***")
    if not secrets or b"\\" not in data:
        return data
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError):
        return data
    found = [False]

    def clean(node):
        if isinstance(node, str):
            for value in secrets:
                if value in node:
                    found[0] = True
                    node = node.replace(value, "***")
            return node
        if isinstance(node, list):
            return [clean(x) for x in node]
        if isinstance(node, dict):
            return {clean(k): clean(v) for k, v in node.items()}
        return node

    cleaned = clean(parsed)
    return json.dumps(cleaned).encode() if found[0] else data


@dataclass
class Upstream:
    """One upstream request's raw result (`problem` set when it is not a usable reply)."""

    status: int
    data: bytes
    retry_after: str | None = None
    problem: str = ""
    latency: float = 0.0


@dataclass
class Account:
    """What one answered (or failed) upstream request is worth: its status as the agent sees it,
    the parsed reply, the usage recorded and the dollars charged."""

    status: int
    problem: str
    parsed: dict | None
    usage: dict
    tokens: dict
    dollars: float
    flag: str = ""


def account(route: Route, payload: bytes, up: Upstream, bound: float) -> Account:
    """Parse, read usage, price: never above the reserved bound, whatever the provider says."""
    status, problem, parsed, usage = up.status, up.problem, None, {}
    if status == 200 and not problem:
        try:
            parsed = json.loads(up.data)
        except (ValueError, RecursionError):
            status, problem = 502, "upstream reply is not JSON"
        else:
            if not isinstance(parsed, dict):
                status, problem, parsed = 502, "upstream reply is not a JSON object", None
            else:
                usage = read_usage(parsed)
    if problem and status == 200:
        status = 502
    if status != 200:
        refused = problem == "reply too large"
        return Account(status, problem, None, {}, {}, bound if refused else 0.0,
                       "reply refused; the call's bound is charged" if refused else "")
    flags = []
    limits = {"prompt_tokens": len(payload), "completion_tokens": route.max_tokens}
    beyond = [k for k, limit in limits.items() if usage.get(k) is not None and usage[k] > limit]
    if beyond:  # more tokens than the request could have had: not believed, approximated instead
        usage = {**usage, **{k: None for k in beyond}}
        flags.append(f"provider {', '.join(beyond)} beyond what the request allows; approximated")
    tokens = token_counts(usage, payload, parsed)
    dollars, flag = cost_of(route.model, {**usage, **{k: v for k, v in tokens.items() if k != "source"}}, bound)
    if flag:
        flags.append(flag)
    if dollars > bound:
        dollars = bound
        flags.append("charged at the call's bound")
    return Account(200, "", parsed, usage, tokens, dollars, "; ".join(flags))


class _Handler(BaseHTTPRequestHandler):
    """The request path: validate → reserve → forward → account → reply."""

    state: _State
    timeout = 60  # a client that announces more than it sends is dropped, not waited on forever

    def log_message(self, format, *args):
        pass

    def log_error(self, format, *args):
        pass

    def _reply(self, status: int, body: bytes, headers: dict | None = None):
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Sweboard-Held-Seconds", f"{getattr(self, 'held_seconds', 0.0):g}")
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, socket.timeout, OSError):
            pass  # the agent is gone (killed at its deadline): nothing to answer

    def _error(self, status: int, kind: str, message: str, headers: dict | None = None):
        self._reply(status, json.dumps({"error": {"type": kind, "message": message, "code": status}}).encode(),
                    headers=headers)

    def do_GET(self):
        self._error(404, "invalid_request_error", "the sweboard gateway serves POST .../chat/completions only")

    def do_POST(self):
        route = None
        try:
            route = self._route()
            if route is None:
                return
            route.reached.set()  # the agent is up: its start-up is over, whatever waits now
            if not self._take_turn(route):
                return
            self._start_clock(route)
            payload = self._read_request(route)
            if payload is not None:
                self._forward(route, payload)
            if route.gate is not None:
                route.gate.after_call(route)
        except Exception as exc:  # never a traceback on the terminal: a recorded 502 instead
            message = f"sweboard gateway error: {type(exc).__name__}"
            if route is not None:
                self._record(route, {"status": 502, "retries": 0, "upstream": False, "error": message})
            self._error(502, "gateway_error", message)

    # -- validate ---------------------------------------------------------------------------------
    def _route(self) -> Route | None:
        """The attempt named by `/a/<token>/v1/chat/completions`, or None (answered 404)."""
        parts = self.path.split("/")
        if len(parts) < 4 or parts[1] != "a" or not self.path.rstrip("/").endswith("/chat/completions"):
            self._error(404, "invalid_request_error", "no such route")
            return None
        route = self.state.routes.get(parts[2])
        if route is None or route.closed.is_set():
            self._error(404, "invalid_request_error", "unknown attempt token")
            return None
        return route

    def _take_turn(self, route: Route) -> bool:
        """Hold a first call at the batch's probe gate; the seconds held go back in a header, so a relay
        on another machine starts the attempt's clock where this one does."""
        self.held_seconds = 0.0
        if route.gate is None or route.answered.is_set():
            return True
        began = time.monotonic()
        ok = route.gate.enter(route)
        self.held_seconds = round(time.monotonic() - began, 3)
        if not ok:
            route.refused = "held until its batch stopped"
            self._error(503, "batch_stopped", "sweboard: the batch stopped before this call could be made")
        return ok

    @staticmethod
    def _start_clock(route: Route) -> None:
        with route.cond:
            if not route.first_call.is_set():  # the agent's first step: its clock starts now
                if route.budget_seconds is not None:
                    route.deadline = time.monotonic() + route.budget_seconds
                route.first_call.set()

    def _bad_request(self, route: Route, status: int, message: str) -> None:
        """A client oddity: recorded (nothing was sent upstream, nothing charged) and answered in JSON."""
        self._record(route, {"status": status, "retries": 0, "upstream": False, "error": f"bad request: {message}"})
        self._error(status, "invalid_request_error", message)

    def _read_request(self, route: Route) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self._bad_request(route, 400, "Content-Length is not an integer")
            return None
        if not 0 <= length <= MAX_REQUEST_BYTES:
            self._bad_request(route, 413 if length > 0 else 400, f"request body of {length} bytes")
            return None
        try:
            raw = self.rfile.read(length)
        except (socket.timeout, OSError):
            raw = b""
        if len(raw) != length:
            self._bad_request(route, 400, f"request body truncated ({len(raw)} of {length} bytes)")
            return None
        try:
            body = json.loads(raw or b"{}")
        except (ValueError, RecursionError):
            self._bad_request(route, 400, "body is not JSON")
            return None
        if not isinstance(body, dict):
            self._bad_request(route, 400, "body is not a JSON object")
            return None
        if body.get("stream"):
            self._bad_request(route, 400, "streaming is not supported by the sweboard gateway")
            return None
        body["model"] = route.model.served_id  # the catalog id (or its deliberate alias), whatever the agent said
        cap_output(body, route.max_tokens)
        if route.model.provider.name == "openrouter":
            body["usage"] = {"include": True}  # older API versions report usage.cost only when asked
        return json.dumps(body).encode()

    # -- reserve, forward, account ------------------------------------------------------------------
    def _forward(self, route: Route, payload: bytes) -> None:
        with route.cond:
            route.inflight += 1
        try:
            self._exchange(route, payload)
        finally:
            with route.cond:
                route.inflight -= 1
                route.cond.notify_all()

    def _ended(self, route: Route) -> bool:
        remaining = route.remaining()
        return route.closed.is_set() or self.state.stopping.is_set() or (remaining is not None and remaining <= 0)

    def _reserve(self, route: Route, bound: float) -> str | None:
        """A reservation id for one upstream request, or None after answering the refusal (budget
        spent, or a damaged ledger: both stop the batch, resumable)."""
        try:
            refusal, reservation = self.state.ledger.reserve(route.model.provider, bound, route.model.id)
        except SweboardError as exc:
            refusal, reservation = str(exc), None
        if refusal:
            self._stop_budget(route, {"status": "budget_exhausted", "error": refusal}, refusal)
            return None
        self._note(route, {"status": "sent", "reservation": reservation, "bound_usd": round(bound, 8)})
        return reservation

    def _settle(self, route: Route, reservation: str, acct: Account, base: dict) -> bool:
        """Charge the call; if the ledger was damaged meanwhile, the call (made, maybe billed) is still
        recorded with its cost, and the batch stops spending."""
        try:
            self.state.ledger.settle(route.model.provider, reservation, acct.dollars)
            return True
        except SweboardError as exc:
            route.exhausted = str(exc)
            self._record(route, {"status": acct.status, **base, "cost_usd": round(acct.dollars, 8),
                                 "error": f"not settled: {exc}"})
            self._error(429, "budget_exhausted", f"sweboard: {exc}", {"X-Sweboard-Budget": "exhausted"})
            return False

    def _stop_budget(self, route: Route, entry: dict, why: str) -> None:
        route.exhausted = why
        self._record(route, entry)
        self._error(429, "budget_exhausted", f"sweboard: {why}", {"X-Sweboard-Budget": "exhausted"})

    def _exchange(self, route: Route, payload: bytes) -> None:
        """Reserve → forward → account, retrying transient failures (bounded, never past the deadline)."""
        model, policy = route.model, self.state.policy
        url = model.provider.base_url().rstrip("/") + "/chat/completions"
        bound = call_bound(model, payload, route.max_tokens)
        started, retries, waited = time.monotonic(), 0, 0.0
        while True:
            if self._ended(route):
                self._record(route, {"status": "cancelled", "retries": retries, "backoff_s": round(waited, 2),
                                     "error": "the attempt ended before this call could be made"})
                self._error(504, "attempt_over", "sweboard: the attempt's time is up")
                return
            reservation = self._reserve(route, bound)
            if reservation is None:
                return
            remaining = route.remaining()
            timeout = policy.upstream_timeout if remaining is None else max(0.1, min(policy.upstream_timeout, remaining))
            up = self._call(route, url, payload, timeout)
            acct = account(route, payload, up, bound)
            base = {"retries": retries, "latency_s": round(up.latency, 3), "reservation": reservation}
            if not self._settle(route, reservation, acct, base):
                return
            if acct.status == 402:  # the provider's own quota (Chutes): a budget stop, not a failure
                why = f"provider quota exhausted until {_quota_reset(up.data)} ({model.provider.name} answered 402)"
                self._stop_budget(route, {"status": 402, **base, "error": why}, why)
                return
            delay = self._retry_delay(route, acct, up, retries)
            if delay is None:
                break
            self._record(route, {"status": acct.status, **base, "retry_after": number(_float(up.retry_after)),
                                 "will_retry_in_s": round(delay, 2), **({"error": acct.problem} if acct.problem else {})})
            if route.gate is not None:
                route.gate.retrying(route)  # not a refusal of the model: a serial run would go on too
            retries += 1
            waited += delay
            route.closed.wait(delay)  # unregister ends the wait at once
        self._respond(route, acct, up, base, started, waited, bound)

    def _retry_delay(self, route: Route, acct: Account, up: Upstream, retries: int) -> float | None:
        """Seconds before the next try of a transient failure, or None when this answer is final."""
        transient = acct.status in RETRYABLE and acct.problem not in (
            "reply too large", "upstream reply is not JSON", "upstream reply is not a JSON object")
        if not transient or retries >= self.state.policy.max_retries or self.state.stopping.is_set() \
                or route.closed.is_set():
            return None
        delay = self.state.policy.delay(retries, up.retry_after)
        remaining = route.remaining()
        return delay if remaining is None or delay < remaining else None

    # -- reply ------------------------------------------------------------------------------------
    def _respond(self, route: Route, acct: Account, up: Upstream, base: dict, started: float, waited: float,
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
        self._record(route, entry)
        if acct.problem:
            self._error(acct.status, "upstream_error", f"sweboard: {acct.problem}")
        else:
            self._reply(acct.status, scrub_reply(up.data, route.secrets))

    def _call(self, route: Route, url: str, payload: bytes, timeout: float) -> Upstream:
        """One upstream request. Never raises; the socket is registered on the route so that
        `unregister` can cut it."""
        t0 = time.monotonic()
        status, data, retry_after, problem = self._request(route, url, payload, timeout)
        return Upstream(status, route.scrub(data), retry_after, problem, time.monotonic() - t0)

    def _request(self, route: Route, url: str, payload: bytes, timeout: float) -> tuple[int, bytes, str | None, str]:
        """(status, body, Retry-After, problem)."""
        parts = urlsplit(url)
        conn = connection(parts, timeout)
        headers = {"Content-Type": "application/json"}
        if route.api_key:
            headers["Authorization"] = f"Bearer {route.api_key}"
        with route.cond:
            route.connections.add(conn)
        cap = self.state.policy.max_reply_bytes
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

    def _note(self, route: Route, entry: dict) -> None:
        """A line that is not a call's outcome (a request about to be sent), so that a kill -9 during
        the call still leaves its trace: `read_calls` turns an unanswered one into 'outcome unknown'."""
        with self.state.lock:
            with route.calls_file.open("a") as f:
                f.write(json.dumps({"t": round(time.time(), 3), "model": route.model.id, **entry}) + "\n")

    def _record(self, route: Route, entry: dict) -> None:
        entry = {"t": round(time.time(), 3), "model": route.model.id, **entry}
        if "error" in entry:
            entry["error"] = redact(str(entry["error"]), list(route.secrets))[:500]
        with self.state.lock:
            route.calls += 1
            with route.calls_file.open("a") as f:
                f.write(json.dumps(entry, allow_nan=False) + "\n")
        if entry.get("status") == 200:
            route.answered.set()


def _billed(raw, bound: float) -> float | None:
    """The provider's billed cost when it is believable (finite, 0..the call's bound), else None."""
    value = number(raw)
    return float(value) if value is not None and 0 <= value <= bound else None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _err_body(kind: str) -> bytes:
    return json.dumps({"error": {"type": kind}}).encode()


def _quota_reset(data: bytes) -> str:
    try:
        body = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    value = body.get("quota_reset_timestamp") if isinstance(body, dict) else None
    if isinstance(value, str) and len(value) <= 40 and all(c.isalnum() or c in ":-.+TZ " for c in value):
        return value
    if number(value) is not None:
        import datetime as dt

        try:
            return dt.datetime.fromtimestamp(value, dt.timezone.utc).isoformat().replace("+00:00", "Z")
        except (OverflowError, OSError, ValueError):
            pass
    return "the provider's reset (00:00 UTC for Chutes)"


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


def read_calls(path: Path) -> list[dict]:
    """An attempt's call records. A request noted as `sent` and never settled (its process died
    during the call, kill -9) becomes one call of outcome unknown, charged at its bound: the
    provider may have served and billed it."""
    if not path.is_file():
        return []
    out, pending = [], {}
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill: the rest still counts
        if not isinstance(entry, dict):
            continue
        if entry.get("status") == "sent":
            pending[entry.get("reservation")] = entry
            continue
        pending.pop(entry.get("reservation"), None)
        out.append(entry)
    for sent in pending.values():
        bound = number(sent.get("bound_usd")) or 0.0
        out.append({"t": sent.get("t"), "model": sent.get("model"), "status": "unknown", "retries": 0,
                    "reservation": sent.get("reservation"), "cost_usd": round(bound, 8), "charged_at_bound": True,
                    "error": "outcome unknown: the process died during this call; charged at its bound"})
    return out


def summarize_calls(calls: list[dict]) -> dict:
    """Totals for an attempt: upstream requests, retries, tokens, dollars, latency."""
    final = [c for c in calls if "will_retry_in_s" not in c and c["status"] not in ("budget_exhausted", "cancelled")]
    ok = [c for c in final if c["status"] == 200]
    return {
        "model_calls": len(final),
        "upstream_requests": sum(1 for c in calls if c["status"] not in ("budget_exhausted", "cancelled")
                                 and c.get("upstream", True)),
        "retries": sum(1 for c in calls if "will_retry_in_s" in c),
        "rate_limited": sum(1 for c in calls if c["status"] == 429),
        "failed_calls": len(final) - len(ok),
        "prompt_tokens": sum(c.get("prompt_tokens") or 0 for c in ok),
        "completion_tokens": sum(c.get("completion_tokens") or 0 for c in ok),
        "cost_usd": round(sum(c.get("cost_usd") or 0 for c in final), 8),
        "calls_outcome_unknown": sum(1 for c in calls if c["status"] == "unknown"),
        "latency_s": round(sum(c.get("latency_s") or 0 for c in ok), 3),
        "backoff_s": round(sum(c.get("backoff_s") or 0 for c in final), 3),
        "budget_refusals": sum(1 for c in calls if c["status"] == "budget_exhausted"),
        "cost_flags": sum(1 for c in calls if c.get("cost_flag")),
        "cached_tokens": sum(c.get("cached_tokens") or 0 for c in ok),
        "reasoning_tokens": sum(c.get("reasoning_tokens") or 0 for c in ok),
        # how many answered calls reported each (a provider that says nothing is unknown, not 0)
        "cached_tokens_calls": sum(1 for c in ok if c.get("cached_tokens") is not None),
        "reasoning_tokens_calls": sum(1 for c in ok if c.get("reasoning_tokens") is not None),
        "answered_calls": len(ok),
        "token_sources": {src: sum(1 for c in ok if (c.get("token_source") or "provider") == src)
                          for src in sorted({c.get("token_source") or "provider" for c in ok})},
        "cost_list_usd": round(sum(c.get("cost_list_usd") or 0 for c in ok), 8),
        "cost_billed_usd": round(sum(c["provider_cost"] for c in ok if c.get("provider_cost") is not None), 8),
        "billed_calls": sum(1 for c in ok if c.get("provider_cost") is not None),
        "cost_list_of_billed_usd": round(sum(c.get("cost_list_usd") or 0 for c in ok
                                             if c.get("provider_cost") is not None), 8),
        "latencies_s": [c.get("latency_s") for c in ok if c.get("latency_s") is not None],
    }
