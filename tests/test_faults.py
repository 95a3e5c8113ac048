"""The fault matrix: a hostile upstream (tests/faultserver.py) behind a real catalog model, a careless
client, and the gateway between them. Every case: no key anywhere, no traceback, a recorded JSON
error, a valid ledger whose totals equal the recorded calls."""

import http.client
import json
import math
import socket
import time

import pytest
from faultserver import FaultServer

from sweboard.catalog import load_catalog
from sweboard.gateway import Gateway, RetryPolicy, read_calls, summarize_calls
from sweboard.ledger import Ledger

KEY = "sk-or-PLANTED-fault-matrix-91c4e2"
MODEL = "qwen/qwen3-coder"  # a real OpenRouter catalog entry: the provider code path under test


@pytest.fixture
def world(home, tmp_path, monkeypatch, capfd):
    with FaultServer(huge_bytes=300_000, hang_seconds=30, max_seconds=300) as server:
        ledger = Ledger(tmp_path / "ledger.json")
        policy = RetryPolicy(max_retries=2, base_delay=0.05, max_delay=0.2, upstream_timeout=30, max_reply_bytes=100_000)
        with Gateway(ledger, policy) as gw:
            yield {"server": server, "gw": gw, "ledger": ledger, "tmp": tmp_path, "monkeypatch": monkeypatch}
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err, "a handler crashed onto the terminal"
    assert KEY not in out + err


def route(w, fault, deadline_s=None):
    w["monkeypatch"].setenv("OPENROUTER_BASE_URL", w["server"].base_url(fault))
    model = load_catalog().get(MODEL)
    calls = w["tmp"] / f"calls-{fault}.jsonl"
    deadline = time.monotonic() + deadline_s if deadline_s else None
    url, r = w["gw"].register(model, KEY, calls, 512, deadline=deadline, secrets=[KEY])
    return url, r, calls


def post(url, body=None, raw=None, headers=None, timeout=60):
    """A raw HTTP request to the gateway (so that broken requests can be sent too)."""
    parts = url.split("/", 3)
    host, port = parts[2].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    data = raw if raw is not None else json.dumps(body or {"messages": [{"role": "user", "content": "hi"}]}).encode()
    hdrs = {"Content-Type": "application/json", "Content-Length": str(len(data)), **(headers or {})}
    conn.putrequest("POST", "/" + parts[3] + "/chat/completions")
    for k, v in hdrs.items():
        conn.putheader(k, v)
    conn.endheaders()
    conn.send(data)
    resp = conn.getresponse()
    payload = resp.read()
    conn.close()
    return resp.status, payload, dict(resp.getheaders())


def no_key(*blobs):
    for b in blobs:
        text = b if isinstance(b, str) else (b.decode(errors="replace") if isinstance(b, bytes) else json.dumps(b))
        assert KEY not in text


def ledger_matches_calls(w):
    path = w["tmp"] / "ledger.json"
    data = json.loads(path.read_text()) if path.exists() else {}  # valid JSON: no NaN, no Infinity
    entry = data.get("openrouter", {"calls_by_day": {}, "dollars": 0.0})
    calls = [c for p in w["tmp"].glob("calls-*.jsonl") for c in read_calls(p)]
    upstream = summarize_calls(calls)["upstream_requests"]
    assert sum(entry["calls_by_day"].values()) == upstream
    assert entry["dollars"] == pytest.approx(sum(c.get("cost_usd") or 0 for c in calls), abs=1e-6)
    assert math.isfinite(entry["dollars"]) and entry["dollars"] >= 0
    assert entry.get("reserved", {}) == {}, "every reservation settled"
    for p in w["tmp"].glob("calls-*.jsonl"):
        no_key(p.read_text())
    no_key(json.dumps(data))


def test_an_upstream_echoing_the_key_never_shows_it_to_the_agent(world):
    url, _, calls = route(world, "echo-auth")
    status, body, headers = post(url)
    assert status == 200 and b"***" in body
    no_key(body, json.dumps(headers))
    assert "X-Echo" not in headers, "no upstream header is passed on"
    ledger_matches_calls(world)


@pytest.mark.parametrize("fault, expect", [
    ("reset", "upstream connection failed"),
    ("truncate", "upstream reply truncated"),
    ("not-json", "not JSON"),
    ("server-error", None),
])
def test_broken_upstream_replies_become_recorded_json_errors(world, fault, expect):
    url, _, calls = route(world, fault)
    status, body, _ = post(url)
    assert status in (500, 502)
    assert json.loads(body)["error"]  # always JSON for the agent
    recorded = read_calls(calls)
    assert recorded and recorded[-1]["status"] == status
    if expect:
        assert expect in recorded[-1]["error"]
    if fault in ("reset", "server-error", "truncate"):
        assert len(recorded) == 3, "transient: retried twice, then given up"
    if fault == "not-json":
        assert len(recorded) == 1, "a reply that is not JSON is not retried"
    ledger_matches_calls(world)


def test_a_huge_reply_is_refused_not_passed_on_and_its_bound_is_charged(world):
    url, _, calls = route(world, "huge")
    status, body, _ = post(url)
    assert status == 502 and len(body) < 1000
    [call] = read_calls(calls)
    assert call["error"] == "reply too large" and call["cost_usd"] > 0 and "charged" in call["cost_flag"]
    ledger_matches_calls(world)


@pytest.mark.parametrize("fault", ["usage-list", "tokens-string"])
def test_odd_usage_is_recorded_as_missing_numbers(world, fault):
    url, _, calls = route(world, fault)
    status, _, _ = post(url)
    assert status == 200
    [call] = read_calls(calls)
    assert call["prompt_tokens"] is None or isinstance(call["prompt_tokens"], int)
    assert not isinstance(call["prompt_tokens"], str) and not isinstance(call["completion_tokens"], str)
    ledger_matches_calls(world)


@pytest.mark.parametrize("fault", ["cost-huge", "cost-negative", "cost-nan", "cost-true", "cost-string"])
def test_absurd_provider_costs_are_rejected_and_priced_from_tokens(world, fault):
    url, _, calls = route(world, fault)
    status, _, _ = post(url)
    assert status == 200
    [call] = read_calls(calls)
    assert call["cost_flag"].startswith("provider cost rejected")
    model = load_catalog().get(MODEL)
    assert call["cost_usd"] == pytest.approx((10 * model.price_per_1k_input + 5 * model.price_per_1k_output) / 1000)
    assert call["provider_cost"] is None or math.isfinite(call["provider_cost"])
    ledger_matches_calls(world)


def test_a_provider_quota_answer_stops_the_batch_instead_of_failing_the_model(world):
    url, r, calls = route(world, "quota-402")
    status, body, headers = post(url)
    assert status == 429 and headers.get("X-Sweboard-Budget") == "exhausted"
    assert r.exhausted == "provider quota exhausted until 2026-11-27T00:00:00Z (openrouter answered 402)"
    assert world["server"].count("quota-402") == 1, "not retried"
    ledger_matches_calls(world)


def test_a_hanging_upstream_ends_at_the_attempts_deadline(world):
    url, _, calls = route(world, "hang", deadline_s=2.0)
    t = time.monotonic()
    status, body, _ = post(url)
    assert time.monotonic() - t < 10, "the gateway waited past the attempt's deadline"
    assert status in (502, 504)
    recorded = read_calls(calls)
    assert recorded[-1]["status"] in (502, 504, "cancelled")
    ledger_matches_calls(world)


def test_unregister_ends_in_flight_calls_and_nothing_is_recorded_after_it(world):
    import threading

    url, r, calls = route(world, "hang")
    result = {}
    client = threading.Thread(target=lambda: result.setdefault("r", post(url, timeout=60)))
    client.start()
    deadline = time.monotonic() + 10
    while world["server"].count("hang") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    t = time.monotonic()
    world["gw"].unregister(url)
    assert time.monotonic() - t < 5, "unregister waited on the upstream"
    size = calls.stat().st_size
    client.join(timeout=10)
    time.sleep(1.0)
    assert calls.stat().st_size == size, "a ghost call was recorded after the attempt ended"
    assert world["server"].count("hang") == 1, "no retry after the route ended"
    ledger_matches_calls(world)


@pytest.mark.parametrize("raw, headers, status", [
    (b'{"messages": [', None, 400),  # not JSON
    (b"[1, 2, 3]", None, 400),  # not an object
    (b'{"messages": []}', {"Content-Length": "many"}, 400),
])
def test_client_oddities_are_recorded_400s(world, raw, headers, status):
    url, _, calls = route(world, "ok")
    got, body, _ = post(url, raw=raw, headers=headers)
    assert got == status and json.loads(body)["error"]["type"] == "invalid_request_error"
    assert read_calls(calls)[-1]["status"] == status
    assert world["server"].count("ok") == 0, "nothing reached the provider"
    ledger_matches_calls(world)


def test_a_truncated_request_body_is_a_recorded_400(world):
    url, _, calls = route(world, "ok")
    parts = url.split("/", 3)
    host, port = parts[2].split(":")
    with socket.create_connection((host, int(port)), timeout=120) as s:
        s.sendall(f"POST /{parts[3]}/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n".encode()
                  + b'{"messages":')
        s.shutdown(socket.SHUT_WR)
        reply = s.recv(65536)
    assert reply.startswith(b"HTTP/1.0 400") or reply.startswith(b"HTTP/1.1 400")
    assert read_calls(calls)[-1]["status"] == 400


def test_connection_resets_are_the_providers_not_the_agents():
    from sweboard.outcomes import is_infra
    from sweboard.runners.base import classify

    assert classify("BadGatewayError") == "provider_error" and is_infra(classify("BadGatewayError"))
    assert classify("APIConnectionError") == "provider_error"


def test_the_gateway_binds_loopback_only(world):
    host, _ = world["gw"].httpd.server_address
    assert host == "127.0.0.1"


def test_absurd_token_counts_are_never_charged_above_the_calls_bound(world):
    url, _, calls = route(world, "tokens-absurd")
    status, body, _ = post(url)
    assert status == 200
    [call] = read_calls(calls)
    model = load_catalog().get(MODEL)
    request_bytes = len(json.dumps({"messages": [{"role": "user", "content": "hi"}], "model": model.served_id,
                                    "max_tokens": 512, "usage": {"include": True}}))
    bound = (request_bytes * model.price_per_1k_input + 512 * model.price_per_1k_output) / 1000
    assert call["cost_usd"] <= bound + 1e-9, "charged above what the call could have cost"
    assert call["prompt_tokens"] < 10**6 and call["completion_tokens"] <= 512, "absurd counts were recorded"
    assert "beyond what the request allows" in call["cost_flag"] and call["token_source"] == "approx"
    ledger_matches_calls(world)


def test_a_key_spelled_with_unicode_escapes_is_redacted_as_the_agent_decodes_it(world):
    url, _, _ = route(world, "echo-escaped")
    status, body, _ = post(url)
    assert status == 200
    decoded = json.loads(body)["choices"][0]["message"]["content"]
    assert KEY not in decoded and "***" in decoded


def test_the_request_cannot_ask_the_provider_for_more_output_than_the_bound_assumes(world):
    url, _, _ = route(world, "echo-limits")  # the route's max_tokens is 512
    for asked, sent in ((None, 512), (100, 100), (100_000, 512), ("lots", 512)):
        body = {"messages": [{"role": "user", "content": "hi"}], **({"max_tokens": asked} if asked is not None else {})}
        status, reply, _ = post(url, body)
        assert status == 200 and json.loads(reply)["choices"][0]["message"]["content"] == f"max_tokens={sent}"


@pytest.mark.parametrize("content", [
    b'{"openrouter": {"calls_by_day": {}, "dollars": NaN}}',
    b'{"openrouter": {"calls_by_day": {}, "dollars": Infinity}}',
    b'{"openrouter": {"calls_by_day": {}, "dollars": -5}}',
    b'{"openrouter": {"calls_by_day": {}, "dollars": "0"}}',
    b'{"openrouter": {"calls_by_day": {"2026-11-30": 1.5}, "dollars": 0}}',
    b'{"openrouter": {"calls_by_day": {}, "dollars": 0, "reserved": {"x": {"dollars": NaN, "expires": 1}}}}',
    b'{"openrouter": []}',
    b'\xff\xfe{}',
])
def test_a_damaged_ledger_stops_spending_as_a_budget_stop_never_a_provider_failure(world, content):
    (world["tmp"] / "ledger.json").write_bytes(content)
    url, r, calls = route(world, "ok")
    status, body, headers = post(url)
    assert status == 429 and headers.get("X-Sweboard-Budget") == "exhausted", body
    assert "damaged" in r.exhausted and world["server"].count("ok") == 0, "a call went out on a damaged ledger"
    [call] = read_calls(calls)
    assert call["status"] == "budget_exhausted"
    assert (world["tmp"] / "ledger.json").read_bytes() == content, "the damaged ledger was overwritten"


def test_a_call_whose_holder_died_is_charged_at_its_bound_once(tmp_path):
    import subprocess
    import sys

    provider = load_catalog().get(MODEL).provider
    path = tmp_path / "ledger.json"
    script = ("import os, sys; from sweboard.ledger import Ledger; from sweboard.catalog import load_catalog; "
              f"p = load_catalog().get({MODEL!r}).provider; print(Ledger(__import__('pathlib').Path({str(path)!r}))"
              ".reserve(p, 0.25)[1]); sys.stdout.flush(); os._exit(0)")
    rid = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip()
    ledger = Ledger(path)
    assert ledger.usage(provider)["reserved"] == 0.25, "the dead holder's reservation is held until looked at"
    refusal, mine = ledger.reserve(provider, 0.01)
    assert refusal is None
    data = json.loads(path.read_text())["openrouter"]
    assert data["dollars"] == 0.25 and [u["reservation"] for u in data["unsettled"]] == [rid]
    ledger.settle(provider, rid, 0.001)  # a late settle of the charged reservation: not charged twice
    ledger.settle(provider, mine, 0.002)
    assert json.loads(path.read_text())["openrouter"]["dollars"] == pytest.approx(0.252)


def test_a_call_in_flight_at_a_kill_is_recorded_as_outcome_unknown_at_its_bound(tmp_path):
    calls = tmp_path / "calls.jsonl"
    calls.write_text(json.dumps({"t": 1, "status": "sent", "reservation": "a", "bound_usd": 0.03}) + "\n"
                     + json.dumps({"t": 2, "status": 200, "reservation": "a", "cost_usd": 0.01}) + "\n"
                     + json.dumps({"t": 3, "status": "sent", "reservation": "b", "bound_usd": 0.04}) + "\n")
    recorded = read_calls(calls)
    assert [c["status"] for c in recorded] == [200, "unknown"]
    usage = summarize_calls(recorded)
    assert usage["cost_usd"] == pytest.approx(0.05) and usage["calls_outcome_unknown"] == 1
    assert usage["model_calls"] == 2 and usage["failed_calls"] == 1


def test_a_ledger_damaged_during_a_call_stops_spending_and_the_call_still_counts(world):
    from sweboard.errors import SweboardError

    url, r, calls = route(world, "ok")

    def damaged(*args, **kwargs):
        raise SweboardError("ledger.json: damaged (NaN)")

    world["monkeypatch"].setattr(world["ledger"], "settle", damaged)
    status, _, headers = post(url)
    assert status == 429 and headers.get("X-Sweboard-Budget") == "exhausted" and "damaged" in r.exhausted
    usage = summarize_calls(read_calls(calls))
    assert usage["model_calls"] == 1 and usage["cost_usd"] > 0, "a call that was made and billed vanished"
