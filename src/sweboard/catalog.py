"""The model catalog (`config/model_catalog.yaml`): providers and models, prices included.

The catalog alone decides a model's base URL, key variable and prices, so the launcher
stays provider-agnostic. Base URLs come from an environment variable when it is set
(`CHUTES_BASE_URL`, `OPENROUTER_BASE_URL`), which is how tests point real provider code
at 127.0.0.1.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from sweboard.errors import SweboardError
from sweboard.paths import config_dir
from sweboard.yamlio import load_yaml, require


# A model id becomes folder names (`/` as `__`) and part of the official harness's container names, which
# Docker accepts only as [a-zA-Z0-9][a-zA-Z0-9_.-]: an owner and a name of those characters, no `..`.
MODEL_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}(/[A-Za-z0-9][A-Za-z0-9._-]{0,99})?$")


def check_model_id(model_id, where: str) -> str:
    if not isinstance(model_id, str) or not MODEL_ID_RE.match(model_id) or ".." in model_id:
        raise SweboardError(f"{where}: {model_id!r} is not a model id (expected OWNER/NAME or NAME of letters, digits, "
                            "'.', '_', '-', each part starting with a letter or digit, no '..')")
    return model_id


@dataclass(frozen=True)
class Provider:
    name: str
    base_url_env: str | None
    default_base_url: str | None
    api_key_env: str | None
    test_equipment: bool = False
    daily_call_quota: int | None = None
    dollar_cap: float | None = None
    max_concurrency: int = 4
    quota_scope: str = "account"  # daily_call_quota counts per account, or per model (Chutes' free tier)

    def base_url(self) -> str | None:
        if self.base_url_env and os.environ.get(self.base_url_env):
            return os.environ[self.base_url_env]
        return self.default_base_url


@dataclass(frozen=True)
class ModelEntry:
    id: str
    provider: Provider
    price_per_1k_input: float
    price_per_1k_output: float
    price_source: str
    enabled: bool
    notes: str = ""
    served_as: str | None = None  # the provider's current id for this catalog id, mapped deliberately (with a reason)
    tokenizer: str | None = None  # Hugging Face repo whose tokenizer.json counts tokens a reply did not report

    @property
    def served_id(self) -> str:
        """The id sent to the provider: the catalog's own (the plan's), unless an alias was mapped."""
        return self.served_as or self.id

    @property
    def is_baseline(self) -> bool:
        return self.provider.name == "builtin"

    @property
    def calls_a_model(self) -> bool:
        """False for the no-patch baseline, the evaluator canaries and imported predictions: no gateway,
        no key, no call."""
        return self.provider.name not in ("builtin", "canary", "imported")

    @property
    def test_equipment(self) -> bool:
        return self.provider.test_equipment

    @property
    def slug(self) -> str:
        """File-name form of the id (SWE-bench's convention: `/` becomes `__`)."""
        return self.id.replace("/", "__")

    def public_dict(self) -> dict:
        """What a manifest records: no key values, only the variable names."""
        return {
            "id": self.id,
            "provider": self.provider.name,
            "base_url": self.provider.base_url(),
            "api_key_env": self.provider.api_key_env,
            "price_per_1k_input": self.price_per_1k_input,
            "price_per_1k_output": self.price_per_1k_output,
            "price_source": self.price_source,
            "served_as": self.served_as,
            "test_equipment": self.test_equipment,
        }


@dataclass(frozen=True)
class Catalog:
    path: Path
    providers: dict[str, Provider]
    models: dict[str, ModelEntry]

    def get(self, model_id: str) -> ModelEntry:
        if model_id not in self.models:
            import difflib

            near = difflib.get_close_matches(model_id, list(self.models), n=3, cutoff=0.5)
            real = sorted(m for m, e in self.models.items() if not e.test_equipment)
            hint = f"did you mean {' or '.join(repr(n) for n in near)}? " if near else ""
            raise SweboardError(f"--model {model_id!r}: not in {self.path.name}; {hint}models: {real} "
                                "(and scripted/* test equipment for --offline)")
        return self.models[model_id]


def _opt_str(mapping: dict, key: str, where: str) -> str | None:
    value = mapping.get(key)
    if value is not None and not isinstance(value, str):
        raise SweboardError(f"{where}.{key}: expected a string or null, got {value!r}")
    return value


def load_catalog(path: Path | None = None) -> Catalog:
    path = path or config_dir() / "model_catalog.yaml"
    data = load_yaml(path)
    where = str(path)
    providers = {}
    for name, spec in require(data, "providers", dict, where).items():
        pw = f"{where}: providers.{name}"
        if not isinstance(spec, dict):
            raise SweboardError(f"{pw}: expected a mapping")
        providers[name] = Provider(
            name=name,
            base_url_env=_opt_str(spec, "base_url_env", pw),
            default_base_url=_opt_str(spec, "default_base_url", pw),
            api_key_env=_opt_str(spec, "api_key_env", pw),
            test_equipment=bool(spec.get("test_equipment", False)),
            daily_call_quota=spec.get("daily_call_quota"),
            dollar_cap=spec.get("dollar_cap"),
            max_concurrency=int(spec.get("max_concurrency", 4)),
            quota_scope=str(spec.get("quota_scope", "account")),
        )
        if providers[name].quota_scope not in ("account", "model"):
            raise SweboardError(f"{pw}.quota_scope: expected 'account' or 'model', got {spec.get('quota_scope')!r}")
        for key in ("daily_call_quota", "dollar_cap"):
            value = spec.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value) or value < 0):
                raise SweboardError(f"{pw}.{key}: expected a number >= 0 or null, got {value!r}")
    models = {}
    for i, spec in enumerate(require(data, "models", list, where)):
        mw = f"{where}: models[{i}]"
        model_id = check_model_id(require(spec, "id", str, mw), f"{mw}.id")
        provider = require(spec, "provider", str, mw)
        if provider not in providers:
            raise SweboardError(f"{mw}.provider: {provider!r} is not one of the providers {sorted(providers)}")
        if model_id in models:
            raise SweboardError(f"{mw}.id: {model_id!r} appears twice")
        served_as = _opt_str(spec, "served_as", mw)
        if served_as and not str(spec.get("served_as_reason", "")).strip():
            raise SweboardError(f"{mw}.served_as_reason: required with served_as (why {model_id!r} is mapped "
                                f"to {served_as!r}; tools/check_catalog.py reports renames)")
        models[model_id] = ModelEntry(
            id=model_id,
            provider=providers[provider],
            price_per_1k_input=float(require(spec, "price_per_1k_input", (int, float), mw)),
            price_per_1k_output=float(require(spec, "price_per_1k_output", (int, float), mw)),
            price_source=str(spec.get("price_source", "")),
            enabled=bool(spec.get("enabled", True)),
            notes=str(spec.get("notes", "")),
            served_as=served_as,
            tokenizer=_tokenizer_name(spec, mw),
        )
    return Catalog(path=path, providers=providers, models=_apply_price_snapshot(models, path.parent / PRICES_LOCK))


def _tokenizer_name(spec: dict, where: str) -> str | None:
    name = _opt_str(spec, "tokenizer", where)
    if name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise SweboardError(f"{where}.tokenizer: expected a Hugging Face repo id 'org/name', got {name!r}")
    return name


PRICES_LOCK = "model_prices.lock"


def _apply_price_snapshot(models: dict[str, ModelEntry], lock: Path) -> dict[str, ModelEntry]:
    """Prices from the dated snapshot tools/check_catalog.py wrote (the providers' own listings),
    over the catalog's estimates; `price_source` names the snapshot, so the board says what priced it."""
    if not lock.is_file():
        return models
    from dataclasses import replace

    data = load_yaml(lock) or {}
    prices = data.get("prices") if isinstance(data, dict) else None
    if not isinstance(prices, dict):
        raise SweboardError(f"{lock}: expected a 'prices' mapping (tools/check_catalog.py writes this file)")
    out = dict(models)
    for model_id, p in prices.items():
        if model_id in out and isinstance(p, dict):
            try:
                pin, pout = float(p["price_per_1k_input"]), float(p["price_per_1k_output"])
            except (KeyError, TypeError, ValueError):
                raise SweboardError(f"{lock}: prices[{model_id!r}]: expected price_per_1k_input and "
                                    "price_per_1k_output numbers") from None
            if not (math.isfinite(pin) and math.isfinite(pout) and pin >= 0 and pout >= 0):
                raise SweboardError(f"{lock}: prices[{model_id!r}]: prices must be finite and >= 0")
            out[model_id] = replace(out[model_id], price_per_1k_input=pin, price_per_1k_output=pout,
                                    price_source=f"{PRICES_LOCK} {data.get('retrieved_at', '?')} ({p.get('source', '?')})")
    return out
