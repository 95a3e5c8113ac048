"""TEST EQUIPMENT: a hostile OpenAI-compatible upstream on 127.0.0.1, for the fault matrix.

Separate from the scripted provider (which plays well-behaved models for the agents): this one
misbehaves on purpose. The fault is chosen by the URL path, so a real catalog model can be
pointed at it through its provider's base-URL variable, e.g.
`OPENROUTER_BASE_URL=http://127.0.0.1:PORT/f/echo-auth/v1`. Faults:

  ok            a well-formed reply with usage
  echo-auth     echoes the request's Authorization header in the body and in a header
  hang          never answers (until the server stops, or `hang_seconds`)
  reset         closes the connection without a reply
  truncate      announces a longer body than it sends
  huge          a body of `huge_bytes` bytes
  not-json      200 with a body that is not JSON
  usage-list    `usage` is a list
  tokens-string token counts are strings
  cost-<x>      usage.cost is <x>: huge (1e9), negative (-1e9), nan, true, string
  quota-402     402 with Chutes' quota_reset_timestamp
  server-error  500 every time
  tokens-absurd 1e12 prompt and completion tokens, and a rejected cost (charged at most the call's bound)
  echo-escaped  echoes the Authorization header spelled with JSON unicode escapes (a byte match misses it)
  echo-limits   echoes the request's max_tokens in the content

GET faults (check_catalog / reconcile_usage, `GET .../f/<fault>/v1/models` or `/generation`):
  ok            a listing / generation record
  redirect      302 to `redirect_to` (another server: it must never see the key)
  drip          a 200 whose body comes one byte every `drip_seconds`
  bad-status    a status line that is not HTTP
  deep          JSON nested 200,000 deep
  nan-price     a listing with a bare NaN price
  echo-auth     a 401 whose body echoes the Authorization header

Every request is counted (`requests`); nothing is logged to disk but a request count.
The server binds 127.0.0.1 only and stops itself after `max_seconds`.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _reply(content: str = "ok") -> dict:
    return {"id": "gen-fault-1", "object": "chat.completion", "model": "fault", "created": int(time.time()),
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}


class FaultServer:
    def __init__(self, huge_bytes: int = 3_000_000, hang_seconds: float = 60.0, max_seconds: float = 600.0,
                 redirect_to: str = "", drip_seconds: float = 1.0):
        self.huge_bytes = huge_bytes
        self.hang_seconds = hang_seconds
        self.redirect_to = redirect_to
        self.drip_seconds = drip_seconds
        self.requests: list[dict] = []
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                parts = self.path.split("/")
                fault = parts[2] if len(parts) > 2 and parts[1] == "f" else "ok"
                auth = self.headers.get("Authorization", "")
                server.requests.append({"fault": fault, "t": time.time(), "method": "GET", "authorization": auth})
                listing = {"data": [{"id": "qwen/qwen3-coder", "pricing": {"prompt": "0.0000002", "completion": "0.000001"}}]}
                if fault == "redirect":
                    self.send_response(302)
                    self.send_header("Location", server.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif fault == "drip":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "1000000")
                    self.end_headers()
                    for _ in range(int(server.hang_seconds / max(server.drip_seconds, 0.01))):
                        if server._stop.wait(server.drip_seconds):
                            break
                        try:
                            self.wfile.write(b" ")
                            self.wfile.flush()
                        except OSError:
                            break
                    self.close_connection = True
                elif fault == "bad-status":
                    self.wfile.write(b"SPDY/9 banana\r\n\r\n")
                    self.close_connection = True
                elif fault == "deep":
                    self._send(200, b"[" * 200_000 + b"]" * 200_000)
                elif fault == "nan-price":
                    self._send(200, b'{"data": [{"id": "qwen/qwen3-coder", "pricing": {"prompt": NaN, "completion": 1}}]}')
                elif fault == "echo-auth":
                    self._send(401, json.dumps({"error": f"bad key {auth}"}).encode())
                elif "/generation" in self.path:
                    self._send(200, json.dumps({"data": {"native_tokens_prompt": 10, "native_tokens_completion": 5,
                                                         "total_cost": 0.00002, "provider_name": "Fault"}}).encode())
                else:
                    self._send(200, json.dumps(listing).encode())

            def do_POST(self):
                parts = self.path.split("/")
                fault = parts[2] if len(parts) > 2 and parts[1] == "f" else "ok"
                length = int(self.headers.get("Content-Length") or 0)
                self._body = self.rfile.read(length)
                server.requests.append({"fault": fault, "t": time.time(), "method": "POST"})
                auth = self.headers.get("Authorization", "")
                if fault == "echo-auth":
                    body = _reply(f"your header was {auth}")
                    body["echo"] = auth
                    self._send(200, json.dumps(body).encode(), {"X-Echo": auth})
                elif fault == "hang":
                    server._stop.wait(server.hang_seconds)
                    self.close_connection = True
                elif fault == "reset":
                    self.close_connection = True
                    self.connection.close()
                elif fault == "truncate":
                    data = json.dumps(_reply()).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data) + 500))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.close()
                elif fault == "huge":
                    body = _reply("x" * server.huge_bytes)
                    self._send(200, json.dumps(body).encode())
                elif fault == "not-json":
                    self._send(200, b"<html>gateway timeout</html>", content_type="text/html")
                elif fault == "usage-list":
                    body = _reply()
                    body["usage"] = [1, 2, 3]
                    self._send(200, json.dumps(body).encode())
                elif fault == "tokens-string":
                    body = _reply()
                    body["usage"] = {"prompt_tokens": "lots", "completion_tokens": "10"}
                    self._send(200, json.dumps(body).encode())
                elif fault.startswith("cost-"):
                    body = _reply()
                    raw = {"cost-huge": "1e9", "cost-negative": "-1e9", "cost-nan": "NaN", "cost-true": "true",
                           "cost-string": '"free"'}[fault]
                    text = json.dumps(body)[:-1] + ', "_": 0}'
                    text = text.replace('"total_tokens": 15}', f'"total_tokens": 15, "cost": {raw}}}')
                    self._send(200, text.encode())
                elif fault == "quota-402":
                    body = {"detail": "Quota exceeded", "quota_reset_timestamp": "2026-11-27T00:00:00Z"}
                    self._send(402, json.dumps(body).encode())
                elif fault == "tokens-absurd":
                    body = _reply()
                    body["usage"] = {"prompt_tokens": 10**12, "completion_tokens": 10**12, "cost": "lots"}
                    self._send(200, json.dumps(body).encode())
                elif fault == "echo-escaped":
                    escaped = "".join(f"\\u{ord(c):04x}" for c in auth)
                    text = json.dumps(_reply("KEY-HERE")).replace("KEY-HERE", f"your header was {escaped}")
                    self._send(200, text.encode())
                elif fault == "echo-limits":
                    sent = json.loads(self._body or b"{}")
                    self._send(200, json.dumps(_reply(f"max_tokens={sent.get('max_tokens')}")).encode())
                elif fault == "server-error":
                    self._send(500, json.dumps({"error": {"message": "boom"}}).encode())
                elif fault == "not-found":
                    self._send(404, json.dumps({"error": {"message": "model not found"}}).encode())
                else:
                    self._send(200, json.dumps(_reply()).encode())

            def _send(self, status, data, headers=None, content_type="application/json"):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # the gateway hung up on a fault it refused (a huge body): expected

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._timer = threading.Timer(max_seconds, self.stop)
        self._timer.daemon = True

    def base_url(self, fault: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/f/{fault}/v1"

    def count(self, fault: str) -> int:
        return sum(1 for r in self.requests if r["fault"] == fault)

    def __enter__(self) -> "FaultServer":
        self._thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        if not self._stop.is_set():
            self.stop()
