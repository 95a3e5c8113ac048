"""Catalog drift and usage reconciliation, against provider stand-ins on 127.0.0.1."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sweboard.catalog import load_catalog

KEY = "sk-or-PLANTED-drift-0b7c11"


@pytest.fixture
def listing():
    """Serves /v1/models (OpenRouter- and Chutes-shaped) and /v1/generation; records the keys it saw."""
    seen = []
    models = {"data": [
        {"id": "qwen/qwen3-coder", "context_length": 262144, "pricing": {"prompt": "0.00000022", "completion": "0.00000095"}},
        {"id": "deepseek/deepseek-chat-v3.1", "context_length": 163840, "pricing": {"prompt": "0.00000025", "completion": "0.000001"}},
        {"id": "openai/gpt-4.1-nano", "pricing": {"prompt": "0.0000001", "completion": "0.0000004"}},
        {"id": "Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8-TEE", "pricing": {"prompt": 2.2e-07, "completion": 9.5e-07}},
        {"id": "zai-org/GLM-4.5-Air"}]}
    generations = {"gen-1": {"native_tokens_prompt": 10, "native_tokens_completion": 5, "total_cost": 0.00002,
                             "provider_name": "Alibaba", "latency": 300},
                   "gen-2": {"native_tokens_prompt": 99, "native_tokens_completion": 5, "total_cost": 0.00009,
                             "provider_name": "DeepInfra", "latency": 200}}

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            seen.append(self.headers.get("Authorization"))
            if self.path.endswith("/models"):
                body, status = models, 200
            elif "/generation?id=" in self.path:
                gid = self.path.split("id=")[1]
                body, status = ({"data": generations[gid]}, 200) if gid in generations else ({"error": "no"}, 404)
            else:
                body, status = {"error": "no route"}, 404
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    server.shutdown()
    server.server_close()


def test_check_catalog_reports_served_renamed_gone_and_snapshots_prices(home, listing, monkeypatch, capsys):
    from sweboard.cli import check_catalog

    url, seen = listing
    monkeypatch.setenv("OPENROUTER_BASE_URL", url)
    monkeypatch.setenv("CHUTES_BASE_URL", url)
    (home / "secrets" / "credentials.txt").write_text(f"OPENROUTER_API_KEY={KEY}\nCHUTES_API_KEY=cpk-drift-x1\n")
    assert check_catalog(["--write"]) == 0
    out = capsys.readouterr().out
    states = {line.split()[0]: line.split()[2] for line in out.splitlines()[1:] if line and not line.startswith("renamed ids")
              and len(line.split()) > 2 and "/" in line.split()[0]}
    assert states["qwen/qwen3-coder"] == "served" and states["mistralai/devstral-small"] == "gone"
    assert states["Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8"] == "renamed"
    assert "Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8-TEE" in out and "not mapped automatically" in out
    assert f"Bearer {KEY}" in seen, "the operator's key was sent to the provider's listing"
    catalog = load_catalog()
    qwen = catalog.get("qwen/qwen3-coder")
    assert qwen.price_per_1k_input == pytest.approx(0.00022) and qwen.price_source.startswith("model_prices.lock 20")
    assert catalog.get("Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8").served_id == "Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8", \
        "a rename is never mapped without a reason in the catalog"
    assert KEY not in (home / "config" / "model_prices.lock").read_text()


def test_a_served_alias_needs_a_reason(home):
    from sweboard.errors import SweboardError

    path = home / "config" / "model_catalog.yaml"
    text = path.read_text().replace("{id: Qwen/Qwen3-Coder-30B-A3B-Instruct, provider: chutes,",
                                    "{id: Qwen/Qwen3-Coder-30B-A3B-Instruct, provider: chutes, served_as: X-TEE,")
    path.write_text(text)
    with pytest.raises(SweboardError, match="served_as_reason: required"):
        load_catalog(path)


def test_reconcile_usage_against_the_generation_endpoint(home, listing, monkeypatch, capsys):
    """Also: the key goes to the configured provider URL, never to the one a manifest recorded (data)."""
    from faultserver import FaultServer

    from sweboard.cli import reconcile_usage

    url, _ = listing
    monkeypatch.setenv("OPENROUTER_BASE_URL", url)
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    elsewhere = FaultServer(max_seconds=60).__enter__()
    calls = home / "runs" / "rec" / "attempts" / "qwen__qwen3-coder" / "t__x-1" / "attempt-1"
    calls.mkdir(parents=True)
    rows = [{"status": 200, "response_id": "gen-1", "prompt_tokens": 10, "completion_tokens": 5, "provider_cost": 0.00002,
             "upstream_provider": "Alibaba"},
            {"status": 200, "response_id": "gen-2", "prompt_tokens": 98, "completion_tokens": 5, "provider_cost": 0.00009},
            {"status": 200, "response_id": "gen-3", "prompt_tokens": 1, "completion_tokens": 1}]
    (calls / "calls.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (home / "runs" / "rec" / "manifest.json").write_text(json.dumps({"run_id": "rec", "batches": {
        "qwen/qwen3-coder": {"model": {"provider": "openrouter", "base_url": elsewhere.base_url("echo-auth")}}}}))
    try:
        assert reconcile_usage(["--run-id", "rec", "--sample", "5"]) == 0
    finally:
        elsewhere.__exit__()
    assert elsewhere.requests == [], "the key went to the URL a manifest recorded"
    out = capsys.readouterr().out
    assert "3 OpenRouter calls" in out and "1 agree" in out
    assert "gen-2: tokens DIFFER" in out and "gen-3: no generation record" in out and "Chutes keeps no per-call" in out


@pytest.mark.parametrize("fault, expect", [
    ("redirect", "redirect refused"),
    ("drip", "no complete answer within 2s"),
    ("bad-status", "could not be read"),
    ("deep", "nested too deeply"),
    ("nan-price", "not valid JSON"),
    ("echo-auth", "HTTP 401"),
])
def test_provider_listings_from_a_hostile_server_are_one_line_and_never_leak_the_key(fault, expect):
    """check_catalog and reconcile_usage share this client: no redirect carries the key, one deadline per
    request, one line per oddity, provider text redacted."""
    import time

    from faultserver import FaultServer

    from sweboard.errors import SweboardError
    from sweboard.httpclient import get_json

    with FaultServer(max_seconds=60, hang_seconds=20, drip_seconds=0.5) as target, \
            FaultServer(max_seconds=60, hang_seconds=20, drip_seconds=0.5) as server:
        server.redirect_to = target.base_url("ok") + "/models"
        began = time.monotonic()
        with pytest.raises(SweboardError) as err:
            get_json(server.base_url(fault) + "/models", KEY, deadline_seconds=2)
        took = time.monotonic() - began
        message = str(err.value)
    assert expect in message and "\n" not in message, message
    assert KEY not in message
    assert took < 5, f"{fault}: the deadline did not hold ({took:.1f}s)"
    assert target.requests == [], "a redirect was followed"
