"""One metered gateway on 127.0.0.1 for all model traffic of a batch.

Agents (mini-swe-agent, SWE-agent) are pointed at `http://127.0.0.1:PORT/a/<token>/v1`
with a dummy key; the token names the attempt. The gateway is the one place that sees every
call, whatever the runner:

- it records per call the provider-reported usage (`usage.prompt_tokens`,
  `completion_tokens`, OpenRouter's `usage.cost`), status, latency and retries, into the
  attempt's `calls.jsonl`;
- it asks the ledger *before* each upstream call (SWE-agent checks its cost limit only after
  a call is paid for), and refuses with a 429 of type `budget_exhausted` when a quota or cap
  is spent;
- it retries 429 and 5xx with exponential backoff honouring `Retry-After`, bounded;
- it holds the real keys, so agents' configs, logs and trajectories never see them.

Why not LiteLLM's proxy: its budgets need a database and its spend is computed from
litellm's price map, not the provider's word; per-attempt attribution would need virtual
keys per attempt. ~200 lines of stdlib keep the numbers exact and the pipeline thin.
Only non-streaming chat completions are supported (the agents used here do not stream).
"""

from __future__ import annotations

import json
import secrets as pysecrets
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sweboard.catalog import ModelEntry
from sweboard.errors import SweboardError
from sweboard.ledger import Ledger

HOST = "127.0.0.1"
RETRYABLE = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    upstream_timeout: float = 300.0

    def delay(self, retry: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(self.max_delay, max(0.0, float(retry_after)))
            except ValueError:
                pass
        return min(self.max_delay, self.base_delay * 2 ** retry)


@dataclass
class Route:
    """One attempt's route: where its calls go, with which key, and where they are recorded."""

    model: ModelEntry
    api_key: str | None
    calls_file: Path
    max_tokens: int
    exhausted: str | None = None  # set when the ledger refused a call of this attempt
    calls: int = 0


@dataclass
class _State:
    ledger: Ledger
    policy: RetryPolicy
    routes: dict[str, Route] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)


def cost_of(model: ModelEntry, usage: dict) -> float:
    """Provider-reported cost when given (OpenRouter), else catalog prices x provider-reported tokens."""
    if isinstance(usage.get("cost"), (int, float)):
        return float(usage["cost"])
    return ((usage.get("prompt_tokens") or 0) * model.price_per_1k_input
            + (usage.get("completion_tokens") or 0) * model.price_per_1k_output) / 1000


class _Handler(BaseHTTPRequestHandler):
    state: _State

    def log_message(self, format, *args):
        pass

    def _reply(self, status: int, body: bytes, content_type: str = "application/json", headers: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _error(self, status: int, kind: str, message: str, headers: dict | None = None):
        self._reply(status, json.dumps({"error": {"type": kind, "message": message, "code": status}}).encode(),
                    headers=headers)

    def do_GET(self):
        self._error(404, "invalid_request_error", "the sweboard gateway serves POST .../chat/completions only")

    def do_POST(self):
        parts = self.path.split("/")
        # /a/<token>/v1/chat/completions
        if len(parts) < 4 or parts[1] != "a" or not self.path.rstrip("/").endswith("/chat/completions"):
            self._error(404, "invalid_request_error", f"no route {self.path}")
            return
        st = self.state
        route = st.routes.get(parts[2])
        if route is None:
            self._error(404, "invalid_request_error", "unknown attempt token")
            return
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._error(400, "invalid_request_error", "body is not JSON")
            return
        if body.get("stream"):
            self._error(400, "invalid_request_error", "streaming is not supported by the sweboard gateway")
            return
        body["model"] = route.model.id  # the catalog id, whatever prefix the agent's client used
        self._forward(route, json.dumps(body).encode())

    def _forward(self, route: Route, payload: bytes) -> None:
        st = self.state
        model = route.model
        url = model.provider.base_url().rstrip("/") + "/chat/completions"
        # Worst case for this call: every prompt byte a token, max_tokens of output.
        bound = (len(payload) * model.price_per_1k_input + route.max_tokens * model.price_per_1k_output) / 1000
        started = time.monotonic()
        retries, waited = 0, 0.0
        while True:
            try:
                refusal = st.ledger.reserve(model.provider, bound)
            except SweboardError as exc:  # a damaged ledger: spend nothing, say why
                refusal = str(exc)
            if refusal:
                route.exhausted = refusal
                self._record(route, {"status": "budget_exhausted", "retries": retries, "error": refusal,
                                     "latency_s": round(time.monotonic() - started, 3)})
                self._error(429, "budget_exhausted", f"sweboard: {refusal}", {"X-Sweboard-Budget": "exhausted"})
                return
            headers = {"Content-Type": "application/json"}
            if route.api_key:
                headers["Authorization"] = f"Bearer {route.api_key}"
            request = urllib.request.Request(url, data=payload, headers=headers, method="POST")
            t0 = time.monotonic()
            try:
                with urllib.request.urlopen(request, timeout=st.policy.upstream_timeout) as resp:
                    status, data, retry_after = resp.status, resp.read(), None
            except urllib.error.HTTPError as err:
                status, data, retry_after = err.code, err.read(), err.headers.get("Retry-After")
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                status, data, retry_after = 502, json.dumps({"error": {"type": "upstream_unreachable",
                                                                         "message": str(err)[:200]}}).encode(), None
            call_latency = time.monotonic() - t0
            if status in RETRYABLE and retries < st.policy.max_retries and not st.stopping.is_set():
                delay = st.policy.delay(retries, retry_after)
                self._record(route, {"status": status, "retries": retries, "latency_s": round(call_latency, 3),
                                     "retry_after": retry_after, "will_retry_in_s": round(delay, 2)})
                retries += 1
                waited += delay
                st.stopping.wait(delay)
                continue
            break
        usage = {}
        if status == 200:
            try:
                usage = json.loads(data).get("usage") or {}
            except (json.JSONDecodeError, AttributeError):
                usage = {}
            dollars = cost_of(model, usage)
            if dollars:
                st.ledger.add_cost(model.provider, dollars)
        self._record(route, {"status": status, "retries": retries, "latency_s": round(call_latency, 3),
                             "total_s": round(time.monotonic() - started, 3), "backoff_s": round(waited, 2),
                             "prompt_tokens": usage.get("prompt_tokens"), "completion_tokens": usage.get("completion_tokens"),
                             "provider_cost": usage.get("cost"), "cost_usd": round(cost_of(model, usage), 8) if usage else None})
        self._reply(status, data)

    def _record(self, route: Route, entry: dict) -> None:
        entry = {"t": round(time.time(), 3), "model": route.model.id, **entry}
        with self.state.lock:
            route.calls += 1
            with route.calls_file.open("a") as f:
                f.write(json.dumps(entry) + "\n")


class Gateway:
    """`with Gateway(ledger) as gw: url = gw.register(...)`; binds 127.0.0.1 only."""

    def __init__(self, ledger: Ledger | None = None, policy: RetryPolicy | None = None):
        self.state = _State(ledger=ledger or Ledger(), policy=policy or RetryPolicy())
        handler = type("GatewayHandler", (_Handler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer((HOST, 0), handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="sweboard-gateway", daemon=True)

    def register(self, model: ModelEntry, api_key: str | None, calls_file: Path, max_tokens: int) -> tuple[str, Route]:
        token = pysecrets.token_hex(8)
        route = Route(model, api_key, calls_file, max_tokens)
        with self.state.lock:
            self.state.routes[token] = route
        return f"http://{HOST}:{self.httpd.server_address[1]}/a/{token}/v1", route

    def unregister(self, base_url: str) -> None:
        token = base_url.rstrip("/").split("/")[-2]
        with self.state.lock:
            self.state.routes.pop(token, None)

    def __enter__(self) -> "Gateway":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.state.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def read_calls(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def summarize_calls(calls: list[dict]) -> dict:
    """Totals for an attempt: upstream requests, retries, tokens, dollars, latency."""
    final = [c for c in calls if "will_retry_in_s" not in c and c["status"] != "budget_exhausted"]
    ok = [c for c in final if c["status"] == 200]
    return {
        "model_calls": len(final),
        "upstream_requests": sum(1 for c in calls if c["status"] != "budget_exhausted"),
        "retries": sum(1 for c in calls if "will_retry_in_s" in c),
        "rate_limited": sum(1 for c in calls if c["status"] == 429),
        "failed_calls": len(final) - len(ok),
        "prompt_tokens": sum(c.get("prompt_tokens") or 0 for c in ok),
        "completion_tokens": sum(c.get("completion_tokens") or 0 for c in ok),
        "cost_usd": round(sum(c.get("cost_usd") or 0 for c in ok), 8),
        "latency_s": round(sum(c.get("latency_s") or 0 for c in ok), 3),
        "backoff_s": round(sum(c.get("backoff_s") or 0 for c in final), 3),
        "budget_refusals": sum(1 for c in calls if c["status"] == "budget_exhausted"),
    }

