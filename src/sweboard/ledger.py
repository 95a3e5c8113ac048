"""A persistent usage ledger per provider, shared by every run on this machine.

Why: the plan's provider budgets (Chutes: a daily quota of free calls; OpenRouter: a $5
credit) span runs, so they cannot live in one run's manifest. The gateway asks the ledger
*before* each upstream call and records the call after it; when a budget is exhausted the
run stops launching and a later run (after the quota resets, or with a new budget) resumes.
The file is `runs/ledger.json`, updated under an exclusive lock (several processes may run).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from sweboard.catalog import Provider
from sweboard.errors import SweboardError
from sweboard.paths import runs_dir


def ledger_path() -> Path:
    return Path(os.environ.get("SWEBOARD_LEDGER", runs_dir() / "ledger.json"))


def _today() -> str:
    return dt.datetime.now(dt.timezone.utc).date().isoformat()


class Ledger:
    def __init__(self, path: Path | None = None):
        self.path = path or ledger_path()

    @contextmanager
    def _locked(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._read()
            yield data
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
            os.replace(tmp, self.path)

    def _read(self) -> dict:
        """The ledger as stored; a damaged file stops spending instead of silently resetting the budgets."""
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text())
        except json.JSONDecodeError as exc:
            raise SweboardError(f"{self.path}: damaged ({exc.msg} at line {exc.lineno}); no call is made until it is "
                                "repaired: restore it from a backup, or fix the JSON by hand (it records spending "
                                "per provider; deleting it resets every budget)") from None
        if not isinstance(data, dict):
            raise SweboardError(f"{self.path}: expected a JSON object of providers; repair or restore it")
        return data

    def reserve(self, provider: Provider, cost_bound: float, model_id: str | None = None,
                ttl_seconds: float = 3600.0) -> tuple[str | None, str | None]:
        """Count one upstream call and hold its worst-case cost if the budgets allow it.

        Returns (refusal, reservation id): a refusal says why not (nothing counted); otherwise
        `settle(reservation id, dollars)` must follow the call. Held reservations count against
        the dollar cap, so parallel calls cannot overshoot it together; a reservation left by a
        killed process expires after `ttl_seconds`.
        """
        day = _today()  # read once: a call crossing midnight counts on one day only
        now = time.time()
        with self._locked() as data:
            entry = data.setdefault(provider.name, {"calls_by_day": {}, "dollars": 0.0})
            held = entry.setdefault("reserved", {})
            for rid in [r for r, v in held.items() if v.get("expires", 0) < now]:
                del held[rid]
            if provider.daily_call_quota is not None:
                if provider.quota_scope == "model" and model_id:
                    counts = entry.setdefault("calls_by_day_model", {}).setdefault(model_id, {})
                    scope = f"{provider.name} daily call quota for {model_id}"
                else:
                    counts, scope = entry["calls_by_day"], f"{provider.name} daily call quota"
                today = counts.get(day, 0)
                if today >= provider.daily_call_quota:
                    return f"{scope} exhausted ({today}/{provider.daily_call_quota} calls on {day} UTC)", None
            if provider.dollar_cap is not None:
                reserved = sum(v["dollars"] for v in held.values())
                if cost_bound > provider.dollar_cap:
                    return (f"{provider.name}: one call's cost bound (${cost_bound:.4f}: prompt bytes + max_tokens at "
                            f"catalog prices) exceeds the whole dollar cap ${provider.dollar_cap:.2f}; lower max_tokens "
                            "or the prompt size, or raise dollar_cap"), None
                if entry["dollars"] + reserved + cost_bound > provider.dollar_cap:
                    return (f"{provider.name} dollar cap reached (${entry['dollars']:.4f} spent + ${reserved:.4f} held "
                            f"by calls in flight + ${cost_bound:.4f} bound for this call > ${provider.dollar_cap:.2f})"), None
            entry["calls_by_day"][day] = entry["calls_by_day"].get(day, 0) + 1
            if provider.quota_scope == "model" and model_id and provider.daily_call_quota is not None:
                counts = entry["calls_by_day_model"][model_id]
                counts[day] = counts.get(day, 0) + 1
            rid = uuid.uuid4().hex[:16]
            held[rid] = {"dollars": round(cost_bound, 8), "expires": round(now + ttl_seconds, 1)}
            return None, rid

    def settle(self, provider: Provider, reservation: str | None, dollars: float) -> None:
        """Replace a call's held bound by what it cost (0 for a call that was never answered)."""
        with self._locked() as data:
            entry = data.setdefault(provider.name, {"calls_by_day": {}, "dollars": 0.0})
            entry.setdefault("reserved", {}).pop(reservation, None)
            entry["dollars"] = round(entry["dollars"] + dollars, 8)

    def add_cost(self, provider: Provider, dollars: float) -> None:
        self.settle(provider, None, dollars)

    def usage(self, provider: Provider) -> dict:
        data = self._read()
        entry = data.get(provider.name, {"calls_by_day": {}, "dollars": 0.0})
        return {"calls_today": entry["calls_by_day"].get(_today(), 0), "dollars": entry["dollars"],
                "reserved": round(sum(v["dollars"] for v in entry.get("reserved", {}).values()), 8)}
