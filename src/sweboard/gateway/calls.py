"""An attempt's call records (`calls.jsonl`), read back: a request noted as sent and never settled is a call
of outcome unknown, charged at its bound; and the attempt's totals."""

from __future__ import annotations

import json
from pathlib import Path

from sweboard.gateway.accounting import number


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
