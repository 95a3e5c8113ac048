"""The batch's probe holds first calls, not attempts: until the provider answered one call, first
calls go upstream only as a serial run would make them — one at a time, or up to the failure
streak's width once every probe in flight fails in a way the gateway retries — and a stopped
batch's held calls are refused without reaching it."""

import json
import threading
import time

from faultserver import FaultServer

from sweboard.catalog import load_catalog
from sweboard.gateway import Gateway, ProbeGate, RetryPolicy
from sweboard.ledger import Ledger
from test_faults import post

MODEL = "qwen/qwen3-coder"


def first_calls(gw, model, tmp_path, gate, n):
    """n attempts whose agents send their first call at the same moment; returns (status, route) per attempt."""
    routes = [gw.register(model, "sk-or-probe-key-000", tmp_path / f"calls-{i}.jsonl", 64, gate=gate,
                          answered=gate.answered) for i in range(n)]
    out = [None] * n

    def call(i):
        status, _, headers = post(routes[i][0])
        out[i] = (status, routes[i][1], float(headers.get("X-Sweboard-Held-Seconds", "nan")))
    threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    return threads, out


def test_a_failing_provider_sees_one_call_at_a_time_and_a_stop_refuses_the_held(home, tmp_path, monkeypatch):
    with FaultServer(max_seconds=120) as upstream:
        monkeypatch.setenv("OPENROUTER_BASE_URL", upstream.base_url("server-error"))
        with Gateway(Ledger(tmp_path / "ledger.json"), RetryPolicy(max_retries=0)) as gw:
            gate = ProbeGate(threading.Event())
            threads, out = first_calls(gw, load_catalog().get(MODEL), tmp_path, gate, 4)
            time.sleep(1.0)
            assert len(upstream.requests) == 1, "only the probe went upstream"
            # the batch records the failed attempt, then lets the next probe go
            [(prober, _)] = gate._holders.values()  # the one probe in flight
            gate.done(prober)
            time.sleep(1.0)
            assert len(upstream.requests) == 2
            gate.stop()  # the failure streak tripped
            for t in threads:
                t.join(10)
    statuses = sorted(s for s, _, _ in out)
    assert statuses == [500, 500, 503, 503], out
    assert sum(1 for _, r, _ in out if r.refused) == 2
    assert len(upstream.requests) == 2, "a refused call never reaches the provider"


def test_once_the_probe_is_answered_the_held_calls_go_together(home, tmp_path, monkeypatch):
    with FaultServer(max_seconds=120) as upstream:
        monkeypatch.setenv("OPENROUTER_BASE_URL", upstream.base_url("ok"))
        with Gateway(Ledger(tmp_path / "ledger.json"), RetryPolicy(max_retries=0)) as gw:
            gate = ProbeGate(threading.Event())
            threads, out = first_calls(gw, load_catalog().get(MODEL), tmp_path, gate, 5)
            for t in threads:
                t.join(20)
    assert [s for s, _, _ in out] == [200] * 5 and gate.answered.is_set()
    assert all(r.first_call.is_set() and r.reached.is_set() and not r.refused for _, r, _ in out)
    assert all(held >= 0 for _, _, held in out)
    assert len(upstream.requests) == 5
    lines = [json.loads(x) for p in tmp_path.glob("calls-*.jsonl") for x in p.read_text().splitlines()]
    assert sum(1 for x in lines if x["status"] == 200) == 5


def _probe_rounds(tmp_path, monkeypatch, fault, retries):
    """4 attempts at once against `fault`, a gate of width 2 (provider_failure_streak=2): the upstream's
    requests after 1 s, and the gate and routes."""
    upstream = FaultServer(max_seconds=120).__enter__()
    monkeypatch.setenv("OPENROUTER_BASE_URL", upstream.base_url(fault))
    gw = Gateway(Ledger(tmp_path / "ledger.json"), RetryPolicy(max_retries=retries, base_delay=3.0)).__enter__()
    gate = ProbeGate(threading.Event(), width=2)
    threads, out = first_calls(gw, load_catalog().get(MODEL), tmp_path, gate, 4)
    time.sleep(1.5)
    return upstream, gw, gate, threads, out, len(upstream.requests)


def test_a_provider_failing_in_a_retried_way_gets_as_many_probes_as_the_streak_at_once(home, tmp_path, monkeypatch):
    upstream, gw, gate, threads, out, early = _probe_rounds(tmp_path, monkeypatch, "server-error", 1)
    try:
        assert early == 2, "a 500 the gateway retries lets the second probe go, and no third"
        probes = [r for r, _ in gate._holders.values()]
        assert len(probes) == 2
        gate.done(probes[0], streak=1)  # the batch recorded one failed attempt: one more in a row trips it
        time.sleep(1.0)
        assert len(gate._holders) == 1 and len(upstream.requests) <= 4, "no third probe while the streak is 1"
        gate.done(probes[1], streak=2)
        gate.stop()  # the streak tripped
        for t in threads:
            t.join(15)
    finally:
        gw.__exit__(None, None, None)
        upstream.__exit__(None, None, None)
    assert sum(1 for _, r, _ in out if r.refused) == 2
    assert len(upstream.requests) == 4, "two attempts (as serially), each with its one retry"


def test_a_retired_model_gets_one_probe(home, tmp_path, monkeypatch):
    upstream, gw, gate, threads, out, early = _probe_rounds(tmp_path, monkeypatch, "not-found", 2)
    try:
        assert early == 1, "a 404 is not retried: no second probe"
        gate.stop()  # the batch stops at model_unavailable
        for t in threads:
            t.join(15)
    finally:
        gw.__exit__(None, None, None)
        upstream.__exit__(None, None, None)
    assert sorted(s for s, _, _ in out) == [404, 503, 503, 503]
    assert len(upstream.requests) == 1
