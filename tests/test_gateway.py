"""The metered gateway and the ledger, against the scripted provider over real HTTP."""

import json
import threading
import time
import urllib.error
import urllib.request

import pytest

from sweboard.catalog import load_catalog
from sweboard.gateway import Gateway, RetryPolicy, read_calls, summarize_calls
from sweboard.ledger import Ledger
from sweboard.testbench import taskset

ROW = next(r for r in taskset.load_rows() if r["instance_id"] == "sweboard-fixtures__tinycalc-1")


def post(url, model="ignored", timeout=30):
    body = {"model": model, "messages": [{"role": "user", "content": ROW["problem_statement"]}],
            "tools": [{"type": "function", "function": {"name": "bash"}}]}
    req = urllib.request.Request(url + "/chat/completions", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer sk-dummy"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture
def catalog(home):
    return load_catalog(home / "config" / "model_catalog.yaml")


def test_passes_through_and_records_provider_usage(home, provider, catalog, tmp_path):
    model = catalog.get("scripted/solver")
    with Gateway(Ledger(tmp_path / "ledger.json")) as gw:
        url, route = gw.register(model, None, tmp_path / "gateway-calls.jsonl", 512)
        assert url.startswith("http://127.0.0.1:")
        status, body = post(url)
    assert status == 200 and body["system_fingerprint"] == "sweboard-scripted"
    [call] = read_calls(tmp_path / "gateway-calls.jsonl")
    assert call["status"] == 200 and call["retries"] == 0
    assert call["prompt_tokens"] == body["usage"]["prompt_tokens"]
    assert call["provider_cost"] == body["usage"]["cost"] and call["cost_usd"] == body["usage"]["cost"]
    assert call["latency_s"] >= 0


def test_retries_429_honouring_retry_after_then_succeeds(home, provider, catalog, tmp_path):
    model = catalog.get("scripted/ratelimited")  # the fixture's provider answers 429 twice, Retry-After 0.5
    with Gateway(Ledger(tmp_path / "ledger.json"), RetryPolicy(max_retries=4, base_delay=5)) as gw:
        url, _ = gw.register(model, None, tmp_path / "gateway-calls.jsonl", 512)
        t = time.monotonic()
        status, _ = post(url)
        elapsed = time.monotonic() - t
    assert status == 200
    assert 0.9 <= elapsed < 5, "waited Retry-After (0.5 s twice), not the 5 s backoff"
    summary = summarize_calls(read_calls(tmp_path / "gateway-calls.jsonl"))
    assert (summary["model_calls"], summary["retries"], summary["rate_limited"]) == (1, 2, 2)


def test_gives_up_after_bounded_retries_on_5xx(home, provider, catalog, tmp_path):
    model = catalog.get("scripted/server-error")
    with Gateway(Ledger(tmp_path / "ledger.json"), RetryPolicy(max_retries=2, base_delay=0.1)) as gw:
        url, _ = gw.register(model, None, tmp_path / "gateway-calls.jsonl", 512)
        status, body = post(url)
    assert status == 503
    calls = read_calls(tmp_path / "gateway-calls.jsonl")
    assert [c["status"] for c in calls] == [503, 503, 503]
    assert summarize_calls(calls)["failed_calls"] == 1


def test_injects_the_provider_key_and_forwards_the_catalog_model_id(home, provider, catalog, tmp_path, monkeypatch):
    monkeypatch.setenv("CHUTES_BASE_URL", provider.base_url)
    model = catalog.get("zai-org/GLM-4.5-Air")
    with Gateway(Ledger(tmp_path / "ledger.json")) as gw:
        url, _ = gw.register(model, "cpk-real-key-abcdef", tmp_path / "gateway-calls.jsonl", 512)
        status, body = post(url, model="openai/whatever-the-agent-says")
    assert status == 404  # the scripted provider does not know GLM: the 404 passes through untouched
    [logged] = [json.loads(x) for x in provider.settings.call_log.read_text().splitlines()]
    import hashlib

    assert logged["model"] == "zai-org/GLM-4.5-Air"
    assert logged["key_sha256_12"] == hashlib.sha256(b"cpk-real-key-abcdef").hexdigest()[:12]


def test_daily_quota_refuses_before_sending(home, provider, catalog, tmp_path):
    model = catalog.get("scripted/solver")
    from dataclasses import replace

    limited = replace(model, provider=replace(model.provider, daily_call_quota=2))
    ledger = Ledger(tmp_path / "ledger.json")
    with Gateway(ledger) as gw:
        url, route = gw.register(limited, None, tmp_path / "gateway-calls.jsonl", 512)
        statuses = [post(url)[0] for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert "daily call quota exhausted (2/2" in route.exhausted
    assert provider.calls == 2, "the refused call never reached the provider"
    assert ledger.usage(limited.provider)["calls_today"] == 2


def test_dollar_cap_counts_provider_cost_across_processes(home, catalog, tmp_path):
    model = catalog.get("scripted/solver")
    from dataclasses import replace

    capped = replace(model.provider, dollar_cap=0.01)
    a, b = Ledger(tmp_path / "l.json"), Ledger(tmp_path / "l.json")
    threads = [threading.Thread(target=lambda: a.add_cost(capped, 0.001)) for _ in range(5)]
    threads += [threading.Thread(target=lambda: b.add_cost(capped, 0.001)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert a.usage(capped)["dollars"] == pytest.approx(0.009)
    refusal, held = a.reserve(capped, 0.0005)
    assert refusal is None and held
    assert "dollar cap reached" in b.reserve(capped, 0.002)[0]


def test_parallel_reservations_cannot_overshoot_the_dollar_cap(home, catalog, tmp_path):
    """Four calls at once against $1 with a $0.60 bound each: one is granted, not four ($2.40)."""
    from dataclasses import replace

    capped = replace(catalog.get("scripted/solver").provider, dollar_cap=1.0)
    ledgers = [Ledger(tmp_path / "l.json") for _ in range(4)]
    results = []
    threads = [threading.Thread(target=lambda lg=lg: results.append(lg.reserve(capped, 0.6))) for lg in ledgers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    granted = [rid for refusal, rid in results if refusal is None]
    assert len(granted) == 1 and all("held by calls in flight" in r for r, _ in results if r)
    ledgers[0].settle(capped, granted[0], 0.1)  # the call cost less than its bound: the rest is free again
    assert ledgers[1].usage(capped) == {"calls_today": 1, "dollars": 0.1, "reserved": 0}
    assert ledgers[1].reserve(capped, 0.6)[0] is None


def test_a_call_crossing_midnight_counts_on_one_day(home, catalog, tmp_path, monkeypatch):
    from sweboard import ledger as ledger_mod

    days = iter(["2026-11-26", "2026-11-27", "2026-11-27"])
    monkeypatch.setattr(ledger_mod, "_today", lambda: next(days))
    lg = Ledger(tmp_path / "l.json")
    provider = catalog.get("scripted/solver").provider
    assert lg.reserve(provider, 0.0)[0] is None
    data = json.loads((tmp_path / "l.json").read_text())
    assert data["scripted"]["calls_by_day"] == {"2026-11-26": 1}


def test_a_damaged_ledger_refuses_spending_in_one_line(home, catalog, tmp_path):
    from sweboard.errors import SweboardError

    path = tmp_path / "ledger.json"
    path.write_text('{"scripted": {"calls_by_day": {"2026-11-26": 12')  # truncated
    with pytest.raises(SweboardError, match=r"ledger.json: damaged .* repaired"):
        Ledger(path).reserve(catalog.get("scripted/solver").provider, 0.0)
    assert path.read_text().endswith("12"), "nothing rewritten"
