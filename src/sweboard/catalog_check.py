"""Catalog drift: which catalog ids each provider still serves, under which name, at what price.

Why: ids are renamed (a `-TEE` suffix on Chutes) or withdrawn, and prices move. `check` asks each
provider's model list (`GET {base_url}/models`, with the operator's key) and reports per catalog id:
`served`, `renamed` (the closest served id, for a person to map deliberately with `served_as` and a
reason — never automatically), or `gone`, with the context length and current prices where the
listing carries them. `snapshot` turns the served prices into `config/model_prices.lock`, which
list-price cost then uses (and the board names).
"""

from __future__ import annotations

import datetime as dt
import difflib
import math

from sweboard.catalog import Catalog, ModelEntry
from sweboard.errors import SweboardError
from sweboard.httpclient import get_json, printable


def fetch_models(base_url: str, api_key: str | None, timeout: float = 30) -> list[dict]:
    """The provider's listing: entries with a printable string id (redacted of the key: a provider's
    text reaches the terminal)."""
    body = get_json(base_url.rstrip("/") + "/models", api_key, deadline_seconds=timeout)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise SweboardError(f"{printable(base_url, [api_key] if api_key else [])}/models: expected a JSON object "
                            "with a 'data' list")
    secrets = [api_key] if api_key else []
    return [{**m, "id": printable(m["id"], secrets, 200)} for m in data
            if isinstance(m, dict) and isinstance(m.get("id"), str)]


def _per_1k(value) -> float | None:
    """Listing prices are dollars per token (OpenRouter's strings, Chutes' numbers): per 1K here."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return round(v * 1000, 10) if math.isfinite(v) and v >= 0 else None


def _count(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _prices(entry: dict) -> tuple[float | None, float | None]:
    pricing = entry.get("pricing") if isinstance(entry.get("pricing"), dict) else {}
    return _per_1k(pricing.get("prompt")), _per_1k(pricing.get("completion"))


def check_model(model: ModelEntry, listing: dict[str, dict]) -> dict:
    served = model.served_id
    row = {"model": model.id, "provider": model.provider.name, "served_as": model.served_as}
    if served in listing:
        entry = listing[served]
        pin, pout = _prices(entry)
        return {**row, "state": "served", "served_id": served, "context_length": _count(entry.get("context_length")),
                "price_per_1k_input": pin, "price_per_1k_output": pout,
                "catalog_price_per_1k_input": model.price_per_1k_input,
                "catalog_price_per_1k_output": model.price_per_1k_output}
    lower = {k.lower(): k for k in listing}
    close = difflib.get_close_matches(served.lower(), list(lower), n=1, cutoff=0.75)
    prefixed = [k for k in listing if k.lower().startswith(served.lower())]
    candidate = (prefixed or [lower[c] for c in close] or [None])[0]
    if candidate:
        return {**row, "state": "renamed", "served_id": candidate,
                "context_length": _count(listing[candidate].get("context_length"))}
    return {**row, "state": "gone", "served_id": None}


def check(catalog: Catalog, keys: dict[str, str | None]) -> list[dict]:
    """One row per enabled catalog model of a provider that lists models (baseline and scripted excluded)."""
    out = []
    for name, provider in sorted(catalog.providers.items()):
        base = provider.base_url()
        models = [m for m in catalog.models.values() if m.provider.name == name and m.calls_a_model and m.enabled]
        if not base or not models or provider.test_equipment:
            continue
        listing = {m["id"]: m for m in fetch_models(base, keys.get(name))}
        out += [{**check_model(m, listing), "source": base} for m in models]
    return out


def snapshot(rows: list[dict]) -> dict:
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    prices = {r["model"]: {"price_per_1k_input": r["price_per_1k_input"], "price_per_1k_output": r["price_per_1k_output"],
                           "source": r["source"]}
              for r in rows if r["state"] == "served" and r.get("price_per_1k_input") is not None
              and r.get("price_per_1k_output") is not None}
    return {"retrieved_at": now, "prices": prices}


def _price(value) -> str:
    """A price cell: the number, or `?` when the listing gave none we could believe (absent, NaN, negative)."""
    return f"{value:.6g}" if isinstance(value, (int, float)) and math.isfinite(value) else "?"


def render(rows: list[dict]) -> str:
    lines = [f"{'catalog id':44} {'provider':10} {'state':8} {'served id':44} {'context':>8}  price/1K in,out (catalog)"]
    for r in rows:
        price = ""
        if r["state"] == "served":
            price = (f"{_price(r.get('price_per_1k_input'))},{_price(r.get('price_per_1k_output'))} "
                     f"({_price(r.get('catalog_price_per_1k_input'))},{_price(r.get('catalog_price_per_1k_output'))})")
        lines.append(f"{r['model']:44} {r['provider']:10} {r['state']:8} {str(r.get('served_id') or '-'):44} "
                     f"{str(r.get('context_length') or '-'):>8}  {price}")
    renamed = [r for r in rows if r["state"] == "renamed"]
    if renamed:
        lines.append("renamed ids are not mapped automatically: add served_as and served_as_reason to the catalog entry "
                     "after checking the provider's page")
    return "\n".join(lines)
