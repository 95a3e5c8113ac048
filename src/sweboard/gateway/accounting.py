"""What an upstream answer is worth: usage as numbers, tokens (provider-reported or approximated), its cost
never above the call's reserved bound, its provenance; and replies scrubbed of every key."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from sweboard.catalog import ModelEntry
from sweboard.credentials import redact
from sweboard.gateway.route import Route
from sweboard.untrusted import message_text


def number(value) -> float | int | None:
    """A finite, non-boolean number, else None: the only kind of usage field ever recorded."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return value


def read_usage(body) -> dict:
    """Provider-reported usage as numbers (missing or odd fields are None, never strings or NaN)."""
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        usage = {}
    prompt_details = usage.get("prompt_tokens_details") if isinstance(usage.get("prompt_tokens_details"), dict) else {}
    completion_details = (usage.get("completion_tokens_details")
                          if isinstance(usage.get("completion_tokens_details"), dict) else {})
    count = lambda v: v if number(v) is not None and v >= 0 else None  # noqa: E731
    return {"prompt_tokens": count(usage.get("prompt_tokens")), "completion_tokens": count(usage.get("completion_tokens")),
            "cached_tokens": count(prompt_details.get("cached_tokens")),
            "reasoning_tokens": count(completion_details.get("reasoning_tokens")),
            "cost": usage.get("cost")}


def token_counts(usage: dict, payload: bytes, reply, tokenizer=None) -> dict:
    """Provider-reported tokens when both counts are given; else the model's own tokenizer on the
    request's messages and the reply's message (`tokenizer`: gateway/tokenizer.py), else the
    documented approximation (4 characters a token, of the request body and the reply's message),
    each marked as such in `source`."""
    if usage.get("prompt_tokens") is not None and usage.get("completion_tokens") is not None:
        return {"prompt_tokens": usage["prompt_tokens"], "completion_tokens": usage["completion_tokens"],
                "source": "provider"}
    if tokenizer is not None:
        counted = _tokenized(tokenizer, payload, reply)
        if counted is not None:
            prompt, completion = counted
            return {"prompt_tokens": usage["prompt_tokens"] if usage.get("prompt_tokens") is not None else prompt,
                    "completion_tokens": (usage["completion_tokens"] if usage.get("completion_tokens") is not None
                                          else completion), "source": "tokenizer"}
    message = ""
    try:
        message = json.dumps(reply["choices"][0]["message"])
    except (KeyError, IndexError, TypeError):
        pass
    return {"prompt_tokens": usage.get("prompt_tokens") if usage.get("prompt_tokens") is not None else math.ceil(len(payload) / 4),
            "completion_tokens": (usage.get("completion_tokens") if usage.get("completion_tokens") is not None
                                  else math.ceil(len(message) / 4)),
            "source": "approx"}


def _tokenized(tokenizer, payload: bytes, reply) -> tuple[int, int] | None:
    """(prompt, completion) tokens by the model's tokenizer; None when the request is not a chat body."""
    from sweboard.gateway.tokenizer import count

    try:
        body = json.loads(payload)
        messages = body["messages"] if isinstance(body, dict) else None
    except (ValueError, KeyError, RecursionError):
        return None
    if not isinstance(messages, list):
        return None
    prompt = sum(count(tokenizer, message_text(m.get("content"))) for m in messages if isinstance(m, dict))
    try:
        completion = count(tokenizer, message_text(reply["choices"][0]["message"].get("content")))
    except (KeyError, IndexError, TypeError, AttributeError):
        completion = 0
    return prompt, completion


def _label(value, route: Route) -> str | None:
    """An upstream string fit for a record: short, printable, redacted."""
    if not isinstance(value, str):
        return None
    clean = "".join(c for c in value[:120] if c.isprintable())
    return redact(clean, list(route.secrets)) or None


def provenance(reply, route: Route) -> dict:
    """Which generation served the call: the provider's response id, the model it says it served,
    and (OpenRouter) the upstream provider behind it."""
    if not isinstance(reply, dict):
        return {}
    return {"response_id": _label(reply.get("id"), route), "served_model": _label(reply.get("model"), route),
            "upstream_provider": _label(reply.get("provider"), route)}


def list_cost(model: ModelEntry, usage: dict) -> float:
    """Catalog prices x provider-reported tokens (the plan's formula)."""
    return ((usage.get("prompt_tokens") or 0) * model.price_per_1k_input
            + (usage.get("completion_tokens") or 0) * model.price_per_1k_output) / 1000


def cost_of(model: ModelEntry, usage: dict, bound: float | None = None) -> tuple[float, str]:
    """(dollars, flag). The provider's `usage.cost` when it is a finite number within 0 and the call's
    bound; otherwise catalog prices x tokens, and the flag says why the provider's figure was not used."""
    raw = usage.get("cost")
    if raw is None:
        return list_cost(model, usage), ""
    value = number(raw)
    if value is not None and value >= 0 and (bound is None or value <= bound):
        return float(value), ""
    why = (f"a {type(raw).__name__}" if value is None else
           ("negative" if value < 0 else "above the call's bound"))
    return list_cost(model, usage), f"provider cost rejected ({why}); priced from tokens"


def cap_output(body: dict, max_tokens: int) -> None:
    """The request's output limit, capped at the attempt's `max_tokens`: the call's reserved bound
    holds only if the provider cannot be asked for more."""
    asked = [k for k in ("max_tokens", "max_completion_tokens") if k in body]
    for k in asked:
        value = body[k]
        valid = isinstance(value, int) and not isinstance(value, bool) and value > 0
        body[k] = min(value, max_tokens) if valid else max_tokens
    if not asked:
        body["max_tokens"] = max_tokens


def call_bound(model: ModelEntry, payload: bytes, max_tokens: int) -> float:
    """The worst case for one call, reserved before it is sent: every prompt byte a token, and
    `max_tokens` of output (the gateway caps the request's own limit at it)."""
    return (len(payload) * model.price_per_1k_input + max_tokens * model.price_per_1k_output) / 1000


def scrub_reply(data: bytes, secrets: tuple[str, ...]) -> bytes:
    """A reply with every secret removed as the agent will read it: in the raw bytes, and in the
    decoded JSON strings (a key spelled with `\\u` escapes passes a byte match, not the decoder)."""
    for value in secrets:
        data = data.replace(value.encode(), b"***")
    if not secrets or b"\\" not in data:
        return data
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError):
        return data
    found = [False]

    def clean(node):
        if isinstance(node, str):
            for value in secrets:
                if value in node:
                    found[0] = True
                    node = node.replace(value, "***")
            return node
        if isinstance(node, list):
            return [clean(x) for x in node]
        if isinstance(node, dict):
            return {clean(k): clean(v) for k, v in node.items()}
        return node

    cleaned = clean(parsed)
    return json.dumps(cleaned).encode() if found[0] else data


@dataclass
class Upstream:
    """One upstream request's raw result (`problem` set when it is not a usable reply)."""

    status: int
    data: bytes
    retry_after: str | None = None
    problem: str = ""
    latency: float = 0.0


@dataclass
class Account:
    """What one answered (or failed) upstream request is worth: its status as the agent sees it,
    the parsed reply, the usage recorded and the dollars charged."""

    status: int
    problem: str
    parsed: dict | None
    usage: dict
    tokens: dict
    dollars: float
    flag: str = ""


def account(route: Route, payload: bytes, up: Upstream, bound: float) -> Account:
    """Parse, read usage, price: never above the reserved bound, whatever the provider says."""
    status, problem, parsed, usage = up.status, up.problem, None, {}
    if status == 200 and not problem:
        try:
            parsed = json.loads(up.data)
        except (ValueError, RecursionError):
            status, problem = 502, "upstream reply is not JSON"
        else:
            if not isinstance(parsed, dict):
                status, problem, parsed = 502, "upstream reply is not a JSON object", None
            else:
                usage = read_usage(parsed)
    if problem and status == 200:
        status = 502
    if status != 200:
        refused = problem == "reply too large"
        return Account(status, problem, None, {}, {}, bound if refused else 0.0,
                       "reply refused; the call's bound is charged" if refused else "")
    flags = []
    limits = {"prompt_tokens": len(payload), "completion_tokens": route.max_tokens}
    beyond = [k for k, limit in limits.items() if usage.get(k) is not None and usage[k] > limit]
    if beyond:  # more tokens than the request could have had: not believed, approximated instead
        usage = {**usage, **{k: None for k in beyond}}
        flags.append(f"provider {', '.join(beyond)} beyond what the request allows; approximated")
    tokens = token_counts(usage, payload, parsed, _tokenizer_of(route))
    dollars, flag = cost_of(route.model, {**usage, **{k: v for k, v in tokens.items() if k != "source"}}, bound)
    if flag:
        flags.append(flag)
    if dollars > bound:
        dollars = bound
        flags.append("charged at the call's bound")
    return Account(200, "", parsed, usage, tokens, dollars, "; ".join(flags))


def _tokenizer_of(route: Route):
    from sweboard.gateway.tokenizer import load

    return load(getattr(route.model, "tokenizer", None))


def _billed(raw, bound: float) -> float | None:
    """The provider's billed cost when it is believable (finite, 0..the call's bound), else None."""
    value = number(raw)
    return float(value) if value is not None and 0 <= value <= bound else None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _err_body(kind: str) -> bytes:
    return json.dumps({"error": {"type": kind}}).encode()


def _quota_reset(data: bytes) -> str:
    try:
        body = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    value = body.get("quota_reset_timestamp") if isinstance(body, dict) else None
    if isinstance(value, str) and len(value) <= 40 and all(c.isalnum() or c in ":-.+TZ " for c in value):
        return value
    if number(value) is not None:
        import datetime as dt

        try:
            return dt.datetime.fromtimestamp(value, dt.timezone.utc).isoformat().replace("+00:00", "Z")
        except (OverflowError, OSError, ValueError):
            pass
    return "the provider's reset (00:00 UTC for Chutes)"
