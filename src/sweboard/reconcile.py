"""Checking the board's usage against the provider's own records ("validate against dashboards").

OpenRouter keeps each generation: `GET {base_url}/generation?id=<response id>` answers with
`data.native_tokens_prompt`, `native_tokens_completion`, `total_cost`, `provider_name` and
`latency`. For a sample of a run's calls, the recorded tokens and billed cost are compared with
those. Chutes has no such per-call record: its call count can only be reconciled with the ledger.
"""

from __future__ import annotations

import random
import urllib.parse

from sweboard.catalog import load_catalog
from sweboard.errors import SweboardError
from sweboard.gateway import number, read_calls
from sweboard.httpclient import get_json, printable
from sweboard.manifest import require_manifest, run_dir


def run_calls(run_id: str) -> list[dict]:
    """Every answered call of a run, with its model's provider, from the attempts' calls.jsonl.

    The URL a call is checked at is the provider's *configured* one (catalog, or its base-URL
    variable), never the one a manifest recorded: a manifest is data (copied, or made against a test
    endpoint or a proxy), and the key must go only where the operator points it."""
    manifest = require_manifest(run_id)
    catalog = load_catalog()
    out = []
    for model_id, batch in manifest["batches"].items():
        provider = batch["model"].get("provider")
        configured = catalog.providers.get(provider)
        base = configured.base_url() if configured is not None else None
        for path in sorted((run_dir(run_id) / "attempts" / model_id.replace("/", "__")).glob("*/attempt-*/calls.jsonl")):
            for c in read_calls(path):
                if c.get("status") == 200:
                    out.append({**c, "provider": provider, "base_url": base, "file": str(path)})
    return out


def generation(base_url: str | None, api_key: str | None, response_id: str, timeout: float = 30) -> dict:
    """The provider's generation record ({"data": ...}), or {"error": one line} when it cannot be had."""
    if not base_url:
        return {"error": "no configured base URL for this provider"}
    url = f"{base_url.rstrip('/')}/generation?id={urllib.parse.quote(response_id)}"
    try:
        body = get_json(url, api_key, deadline_seconds=timeout, max_bytes=2_000_000)
    except SweboardError as exc:
        return {"error": str(exc)}
    data = body.get("data") if isinstance(body, dict) else None
    return {"data": data} if isinstance(data, dict) else {"error": f"{printable(url, [api_key] if api_key else [])}: "
                                                                  "no 'data' object in the answer"}


def reconcile(run_id: str, api_key: str | None, sample: int = 20, seed: int = 0) -> dict:
    calls = run_calls(run_id)
    openrouter = [c for c in calls if c["provider"] == "openrouter" and c.get("response_id")]
    chosen = random.Random(seed).sample(openrouter, min(sample, len(openrouter)))
    checked = []
    for c in chosen:
        answer = generation(c["base_url"], api_key, c["response_id"])
        g = answer.get("data")
        if g is None:
            checked.append({"response_id": c["response_id"], "found": False, "why": answer.get("error")})
            continue
        tokens_ok = (number(g.get("native_tokens_prompt")) == c.get("prompt_tokens")
                     and number(g.get("native_tokens_completion")) == c.get("completion_tokens"))
        billed = number(g.get("total_cost"))
        cost_diff = None if billed is None or c.get("provider_cost") is None else round(billed - c["provider_cost"], 8)
        checked.append({"response_id": c["response_id"], "found": True, "tokens_agree": tokens_ok,
                        "cost_difference_usd": cost_diff,
                        "provider_name": printable(str(g.get("provider_name")), [api_key] if api_key else [], 60),
                        "recorded_upstream_provider": c.get("upstream_provider")})
    chutes_calls = sum(1 for c in calls if c["provider"] == "chutes")
    return {"run_id": run_id, "openrouter_calls": len(openrouter), "sampled": len(chosen), "checked": checked,
            "agree": sum(1 for x in checked if x.get("tokens_agree") and (x.get("cost_difference_usd") in (None, 0)
                                                                             or abs(x["cost_difference_usd"]) < 1e-6)),
            "chutes_calls": chutes_calls}


def render(result: dict) -> str:
    lines = [f"run {result['run_id']}: {result['openrouter_calls']} OpenRouter calls with a response id; "
             f"{result['sampled']} sampled, {result['agree']} agree with the provider's generation record"]
    for x in result["checked"]:
        if not x["found"]:
            lines.append(f"  {x['response_id']}: no generation record ({x.get('why') or 'not yet available, or not this key'}")
        else:
            lines.append(f"  {x['response_id']}: tokens {'agree' if x['tokens_agree'] else 'DIFFER'}, billed cost "
                         f"difference {x['cost_difference_usd']}, served by {x['provider_name']} "
                         f"(recorded {x['recorded_upstream_provider']})")
    lines.append(f"Chutes: {result['chutes_calls']} answered calls recorded in this run; Chutes keeps no per-call record "
                 "to check them against: compare the day's total with runs/ledger.json and the Chutes dashboard by hand")
    return "\n".join(lines)


