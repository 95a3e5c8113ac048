"""A scripted OpenAI-compatible provider on 127.0.0.1 (TEST EQUIPMENT).

It speaks `/v1/chat/completions` and `/v1/models` the way Chutes and OpenRouter do, with
`tool_calls` and a `usage` block (prompt/completion tokens and OpenRouter-style `cost`),
so the real client code paths (litellm, mini-swe-agent, SWE-agent) run unmodified against it.

The requested model name picks a scenario the pipeline must survive (see SCENARIOS). The
server reads the `tools` of each request to drive whichever agent calls: SWE-agent offers
`bash`, `str_replace_editor` and `submit` (one tool call per reply; `submit` twice, the
first shows a review); mini-swe-agent offers only `bash` and submits by echoing its
sentinel line. It finds the task by matching a known problem statement in the messages,
and the step by counting assistant messages, so it keeps almost no state.

Every reply carries `system_fingerprint: sweboard-scripted`; nothing it produces is ever a
model's result. It binds 127.0.0.1 only and shuts itself down after `max_seconds`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sweboard.testbench import taskset

HOST = "127.0.0.1"
PREFIX = "scripted/"
SCENARIOS = {
    "solver": "applies the gold patch through the agent's own tools, then submits",
    "empty": "submits without changing anything",
    "wrong": "edits the right file without fixing anything, then submits",
    "malformed": "replies with tool calls whose arguments are not JSON",
    "ratelimited": "answers 429 with Retry-After for the first N calls of a conversation, then solves",
    "server-error": "answers 503 to every call",
    "slow": "solves, each reply delayed by the configured latency",
    "hang": "holds every call open past any sane timeout (bounded by hang_seconds)",
    "peeker": "looks up the repository's history first (git log --all), then solves: the trajectory scan must flag it",
    "escape": "a hostile model: plants a Docker-socket symlink and a setuid shell wherever it can write, "
              "then holds its next call open (bounded by hang_seconds) so the live attempt can be probed",
}
# What the hostile model runs as root in its task container: every trick the old bind-mounted bridge fell to.
ESCAPE_COMMAND = ("for d in /sock /run /tmp /testbed; do mkdir -p $d; ln -sfn /var/run/docker.sock $d/rex.sock; "
                  "cp /bin/bash $d/sbash && chmod 4755 $d/sbash; done; echo planted")
FINGERPRINT = "sweboard-scripted"
PEEK_COMMAND = "cd /testbed && git log --all --oneline | head -20"  # what scripted/peeker looks up first
MINI_SENTINEL = "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"
# Test prices for the usage.cost field, dollars per token.
PRICE_IN, PRICE_OUT = 0.5e-6, 1.5e-6


@dataclass
class ProviderSettings:
    rate_limit_failures: int = 3
    retry_after_seconds: float = 1.0
    latency_seconds: float = 2.0
    min_latency_seconds: float = 0.0  # every answer (any scenario, errors too) takes at least this long
    hang_seconds: float = 120.0
    max_seconds: float = 3600.0
    call_log: Path | None = None


@dataclass
class _State:
    settings: ProviderSettings
    tasks: dict[str, dict]  # instance_id -> row
    lock: threading.Lock = field(default_factory=threading.Lock)
    rate_limited: dict[str, int] = field(default_factory=dict)
    calls: int = 0
    holding: dict[str, int] = field(default_factory=dict)  # instance_id -> calls held open right now
    stopping: threading.Event = field(default_factory=threading.Event)


def _text_of(messages: list[dict]) -> str:
    parts = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, list):
            parts.extend(str(c.get("text", "")) for c in content if isinstance(c, dict))
        elif content:
            parts.append(str(content))
    return "\n".join(parts)


def find_task(messages: list[dict], tasks: dict[str, dict]) -> dict | None:
    text = _text_of(messages)
    for row in tasks.values():
        title = row["problem_statement"].strip().splitlines()[0]
        if title and title in text:
            return row
    return None


def _apply_command(patch: str) -> str:
    """Apply the gold patch byte for byte: base64 survives any shell, JSON or tool-call handling of
    whitespace (a stripped trailing blank context line is a "corrupt patch" to git)."""
    encoded = base64.encodebytes(patch.encode()).decode()
    return (f"cd /testbed && printf '%s' '{encoded}' | base64 -d > /tmp/sweboard-gold.patch "
            "&& git apply --whitespace=nowarn /tmp/sweboard-gold.patch && rm -f /tmp/sweboard-gold.patch")


def _wrong_command(patch: str) -> str:
    first = taskset._files_in_patch(patch)[0]
    return f"cd /testbed && printf '\\n# scripted wrong fix: touches the file, fixes nothing\\n' >> {first}"


def plan(scenario: str, agent: str, row: dict | None) -> list[tuple[str, dict]]:
    """The scripted actions, as (tool name, arguments), for one conversation.

    For SWE-agent the solver works through SWE-agent's own tools: `bash` to look, its
    `str_replace_editor` to view the file, `bash` to apply the gold patch byte for byte (an edit
    re-typed through the editor cannot reproduce every patch: missing final newlines, blank
    context lines), and `submit` twice (its review step asks to confirm)."""
    solves = row is not None and scenario in ("solver", "ratelimited", "slow", "hang", "peeker")
    if scenario == "escape":
        return [("bash", {"command": ESCAPE_COMMAND}), ("bash", {"command": "echo still here"})]
    peek = [("bash", {"command": PEEK_COMMAND})] if scenario == "peeker" else []
    if agent == "sweagent":
        steps: list[tuple[str, dict]] = [*peek, ("bash", {"command": "cd /testbed && git status --short && ls"})]
        if solves:  # look through SWE-agent's editor (its tool bundle), apply the gold patch byte for byte
            steps.append(("str_replace_editor", {"command": "view",
                                                 "path": f"/testbed/{taskset._files_in_patch(row['patch'])[0]}"}))
            steps.append(("bash", {"command": _apply_command(row["patch"])}))
        elif row is not None and scenario == "wrong":
            steps.append(("bash", {"command": _wrong_command(row["patch"])}))
        return steps + [("submit", {}), ("submit", {})]
    edits: list[str] = []
    if solves:
        edits = [_apply_command(row["patch"])]
    elif row is not None and scenario == "wrong":
        edits = [_wrong_command(row["patch"])]
    steps = [*peek, *[("bash", {"command": c}) for c in edits]]
    if edits:
        steps.append(("bash", {"command": "cd /testbed && git diff > patch.txt"}))
        steps.append(("bash", {"command": f"cd /testbed && echo {MINI_SENTINEL} && cat patch.txt"}))
    else:
        steps.append(("bash", {"command": f"echo {MINI_SENTINEL}"}))
    return steps


def completion(model: str, body: dict, row: dict | None, scenario: str) -> dict:
    messages = body.get("messages") or []
    tool_names = {t.get("function", {}).get("name") for t in body.get("tools") or []}
    agent = "sweagent" if "submit" in tool_names else "mini"
    step = sum(1 for m in messages if m.get("role") == "assistant")
    if scenario == "malformed":
        name, args_text, thought = "bash", '{"command": "ls -la', "THOUGHT: listing files"
    else:
        steps = plan(scenario, agent, row)
        name, args = steps[min(step, len(steps) - 1)]
        args_text, thought = json.dumps(args), f"THOUGHT: scripted step {step + 1} of {len(steps)}."
    prompt_tokens = max(1, math.ceil(len(json.dumps(messages)) / 4))
    completion_tokens = max(1, math.ceil((len(thought) + len(args_text)) / 4))
    return {
        "id": f"chatcmpl-scripted-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": [{
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "content": thought,
                "tool_calls": [{
                    "id": f"call_{uuid.uuid4().hex[:12]}",
                    "type": "function",
                    "function": {"name": name, "arguments": args_text},
                }],
            },
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "cost": round(prompt_tokens * PRICE_IN + completion_tokens * PRICE_OUT, 10),
        },
    }


class _Handler(BaseHTTPRequestHandler):
    server_version = "sweboard-scripted/1"
    state: _State  # set on the subclass made per server

    def log_message(self, format, *args):  # quiet: the call log is the record
        pass

    def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
        began = getattr(self, "_began", None)  # a latency-bound provider (benchmarks): no answer before the minimum
        if began is not None and self.state.settings.min_latency_seconds > 0:
            self.state.stopping.wait(max(0.0, self.state.settings.min_latency_seconds - (time.monotonic() - began)))
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _log(self, model: str, status: int, instance_id: str | None, usage: dict | None, seconds: float) -> None:
        st = self.state
        auth = self.headers.get("Authorization", "")
        # A fingerprint of the key, never the key: lets tests prove which key reached the provider.
        key_sha = hashlib.sha256(auth.removeprefix("Bearer ").encode()).hexdigest()[:12] if auth else None
        with st.lock:
            st.calls += 1
            if st.settings.call_log:
                with st.settings.call_log.open("a") as f:
                    f.write(json.dumps({"t": time.time(), "model": model, "status": status, "instance_id": instance_id,
                                        "usage": usage, "seconds": round(seconds, 3), "key_sha256_12": key_sha}) + "\n")

    def _hold(self, instance_id: str) -> None:
        """Hold the call open (bounded), counted in `holding` so a test knows which attempt waits on it."""
        st = self.state
        with st.lock:
            st.holding[instance_id] = st.holding.get(instance_id, 0) + 1
        try:
            st.stopping.wait(min(st.settings.hang_seconds, st.settings.max_seconds))
        finally:
            with st.lock:
                st.holding[instance_id] -= 1

    def do_GET(self):
        if self.path.rstrip("/").endswith("/models"):
            data = [{"id": PREFIX + s, "object": "model", "owned_by": FINGERPRINT, "description": d}
                    for s, d in SCENARIOS.items()]
            self._send(200, {"object": "list", "data": data})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})

    def do_POST(self):
        start = self._began = time.monotonic()
        st = self.state
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
            return
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        except json.JSONDecodeError:
            self._send(400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}})
            return
        model = str(body.get("model", ""))
        scenario = model[len(PREFIX):] if model.startswith(PREFIX) else None
        row = find_task(body.get("messages") or [], st.tasks)
        iid = row["instance_id"] if row else None
        if scenario not in SCENARIOS:
            self._log(model, 404, iid, None, time.monotonic() - start)
            self._send(404, {"error": {"message": f"The model `{model}` does not exist", "type": "invalid_request_error",
                                       "code": "model_not_found"}})
            return
        if scenario == "server-error":
            self._log(model, 503, iid, None, time.monotonic() - start)
            self._send(503, {"error": {"message": "scripted upstream failure", "type": "server_error"}})
            return
        if scenario == "ratelimited":
            first_user = next((m for m in body.get("messages") or [] if m.get("role") == "user"), {})
            key = hashlib.sha1((model + json.dumps(first_user.get("content"))).encode()).hexdigest()
            with st.lock:
                served = st.rate_limited.get(key, 0)
                if served < st.settings.rate_limit_failures:
                    st.rate_limited[key] = served + 1
            if served < st.settings.rate_limit_failures:
                self._log(model, 429, iid, None, time.monotonic() - start)
                self._send(429, {"error": {"message": "scripted rate limit", "type": "rate_limit_error", "code": 429}},
                           {"Retry-After": f"{st.settings.retry_after_seconds:g}"})
                return
        if scenario == "slow":
            st.stopping.wait(st.settings.latency_seconds)
        if scenario == "hang" or (scenario == "escape" and
                                  any(m.get("role") == "assistant" for m in body.get("messages") or [])):
            self._hold(iid or "")
        reply = completion(model, body, row, scenario)
        self._log(model, 200, iid, reply["usage"], time.monotonic() - start)
        self._send(200, reply)


class ScriptedProvider:
    """Start with `with ScriptedProvider() as p: p.base_url` (a thread in this process)."""

    def __init__(self, settings: ProviderSettings | None = None, port: int = 0, rows: list[dict] | None = None):
        """`rows`: the tasks it knows (default: the bundled offline set); real SWE-bench rows work too."""
        self.settings = settings or ProviderSettings()
        rows = taskset.load_rows() if rows is None else rows
        self.state = _State(settings=self.settings, tasks={r["instance_id"]: r for r in rows})
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer((HOST, port), handler)
        self.httpd.daemon_threads = True
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"

    @property
    def calls(self) -> int:
        return self.state.calls

    @property
    def holding(self) -> set[str]:
        """Instance ids with a call held open right now (scenarios `hang` and `escape`)."""
        with self.state.lock:
            return {iid for iid, n in self.state.holding.items() if n > 0}

    def start(self) -> "ScriptedProvider":
        serve = threading.Thread(target=self.httpd.serve_forever, name="scripted-provider", daemon=True)
        watchdog = threading.Thread(target=self._watchdog, name="scripted-provider-watchdog", daemon=True)
        self._threads = [serve, watchdog]
        for t in self._threads:
            t.start()
        return self

    def _watchdog(self) -> None:
        if not self.state.stopping.wait(self.settings.max_seconds):
            self.stop()

    def stop(self) -> None:
        if not self.state.stopping.is_set():
            self.state.stopping.set()
            self.httpd.shutdown()
            self.httpd.server_close()

    def __enter__(self) -> "ScriptedProvider":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def load_rows_file(path: Path) -> list[dict]:
    """Rows from a JSONL file, each checked for what the solver needs (one-line errors)."""
    from sweboard.errors import SweboardError

    rows = []
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise SweboardError(f"{path}: cannot read ({exc.strerror})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise SweboardError(f"{path}:{n}: not a JSON object") from None
        for key in ("instance_id", "problem_statement", "patch"):
            if not isinstance(row, dict) or not isinstance(row.get(key), str) or not row[key].strip():
                raise SweboardError(f"{path}:{n}: field {key!r}: expected a non-empty string")
        rows.append(row)
    if not rows:
        raise SweboardError(f"{path}: no rows (expected one JSON object a line)")
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Scripted OpenAI-compatible provider on 127.0.0.1 (test equipment).")
    p.add_argument("--port", type=int, default=0, help="port to bind on 127.0.0.1 (0: a free one)")
    p.add_argument("--port-file", type=Path, help="write the chosen port here")
    p.add_argument("--call-log", type=Path, help="append one JSON line per call here")
    p.add_argument("--max-seconds", type=float, default=3600.0, help="shut down after this long (default 3600)")
    p.add_argument("--latency", type=float, default=2.0, help="delay for scripted/slow (seconds)")
    p.add_argument("--min-latency", type=float, default=0.0,
                   help="every chat answer, any scenario, takes at least this long (a latency-bound provider)")
    p.add_argument("--rate-limit-failures", type=int, default=3, help="429s per conversation for scripted/ratelimited")
    p.add_argument("--retry-after", type=float, default=1.0, help="Retry-After seconds on 429")
    p.add_argument("--hang-seconds", type=float, default=120.0, help="how long scripted/hang holds a call")
    p.add_argument("--rows", type=Path,
                   help="JSONL of dataset rows to serve (instance_id, problem_statement, patch), e.g. "
                        "runs/<run_id>/dataset.jsonl; default: the bundled offline set")
    args = p.parse_args(argv)
    try:
        rows = load_rows_file(args.rows) if args.rows else None
    except Exception as exc:  # SweboardError: one line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settings = ProviderSettings(rate_limit_failures=args.rate_limit_failures, retry_after_seconds=args.retry_after,
                                latency_seconds=args.latency, min_latency_seconds=args.min_latency,
                                hang_seconds=args.hang_seconds,
                                max_seconds=args.max_seconds, call_log=args.call_log)
    provider = ScriptedProvider(settings, port=args.port, rows=rows)
    if args.port_file:
        args.port_file.write_text(str(provider.port))
    print(f"scripted provider (TEST EQUIPMENT) on {provider.base_url}; stops after {args.max_seconds:g}s", flush=True)
    provider.start()
    try:
        provider.state.stopping.wait()
    except KeyboardInterrupt:
        provider.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
