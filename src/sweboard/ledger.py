"""A persistent usage ledger per provider, shared by every run on this machine.

Why: the plan's provider budgets (Chutes: a daily quota of free calls; OpenRouter: a $5
credit) span runs, so they cannot live in one run's manifest. The gateway asks the ledger
*before* each upstream call and records the call after it; when a budget is exhausted the
run stops launching and a later run (after the quota resets, or with a new budget) resumes.
The file is `runs/ledger.json`, updated under an exclusive lock (several processes may run).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from sweboard.catalog import Provider
from sweboard.errors import SweboardError
from sweboard.locks import file_lock
from sweboard.processes import process_start
from sweboard.paths import runs_dir


def ledger_path() -> Path:
    return Path(os.environ.get("SWEBOARD_LEDGER", runs_dir() / "ledger.json"))


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number a ledger can hold")


def _amount(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def _counts(value) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
                                           and v >= 0 for k, v in value.items())


def ledger_problem(data) -> str | None:
    """What is wrong with a ledger's content (None when it has the expected shape): per provider,
    `dollars` a finite non-negative number, call counts non-negative integers per day (and per model),
    reservations finite non-negative dollars with an expiry."""
    if not isinstance(data, dict):
        return "expected a JSON object of providers"
    for name, entry in data.items():
        if not isinstance(entry, dict):
            return f"{name}: expected an object"
        missing = [k for k in ("dollars", "calls_by_day") if k not in entry]  # every entry the ledger writes has both
        if missing:
            return f"{name}: missing {', '.join(missing)}"
        if not _amount(entry.get("dollars")):
            return f"{name}.dollars: expected a finite, non-negative number"
        if not _counts(entry.get("calls_by_day")):
            return f"{name}.calls_by_day: expected day -> non-negative integer"
        by_model = entry.get("calls_by_day_model", {})
        if not isinstance(by_model, dict) or not all(_counts(v) for v in by_model.values()):
            return f"{name}.calls_by_day_model: expected model -> day -> non-negative integer"
        held = entry.get("reserved", {})
        if not isinstance(held, dict):
            return f"{name}.reserved: expected an object"
        for rid, r in held.items():
            if not (isinstance(r, dict) and _amount(r.get("dollars")) and _amount(r.get("expires"))
                    and (r.get("pid") is None or (isinstance(r["pid"], int) and not isinstance(r["pid"], bool)))):
                return f"{name}.reserved.{rid}: expected dollars and expires as finite, non-negative numbers"
        unsettled = entry.get("unsettled", [])
        if not isinstance(unsettled, list) or not all(isinstance(u, dict) and _amount(u.get("dollars")) for u in unsettled):
            return f"{name}.unsettled: expected a list of charges"
    return None


def _today() -> str:
    return dt.datetime.now(dt.timezone.utc).date().isoformat()


def holder_alive(reservation: dict) -> bool:
    pid = reservation.get("pid")
    if pid is None:  # written before holders were recorded: its expiry decides
        return reservation.get("expires", 0) >= time.time()
    start, recorded = process_start(pid), reservation.get("pid_start")
    return start is not None and (recorded is None or start == recorded)


def charge_orphans(entry: dict, now: float) -> None:
    """A call whose holder died (kill -9) mid-call may have been served and billed: its outcome is
    unknown, so its bound is charged, and listed under `unsettled` until reconciled by hand."""
    held = entry.setdefault("reserved", {})
    for rid in [r for r, v in held.items() if not holder_alive(v)]:
        bound = held.pop(rid)["dollars"]
        entry["dollars"] = round(entry["dollars"] + bound, 8)
        entry.setdefault("unsettled", []).append({"reservation": rid, "dollars": bound, "charged_at": round(now, 1),
                                                  "why": "holder died during the call: outcome unknown, charged at its bound"})


class Ledger:
    def __init__(self, path: Path | None = None):
        self.path = path or ledger_path()

    @contextmanager
    def _locked(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(self.path.with_suffix(".lock")):
            data = self._read()
            yield data
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
            os.replace(tmp, self.path)

    def _read(self) -> dict:
        """The ledger as stored, validated: a damaged file stops spending instead of silently resetting
        the budgets (or switching a cap off: NaN compares false with everything)."""
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_bytes().decode("utf-8"), parse_constant=_refuse_constant)
        except UnicodeDecodeError:
            raise self.damaged("not UTF-8 text") from None
        except ValueError as exc:
            raise self.damaged(getattr(exc, "msg", str(exc)) + (f" at line {exc.lineno}" if hasattr(exc, "lineno") else "")) from None
        except RecursionError:
            raise self.damaged("nested too deeply") from None
        problem = ledger_problem(data)
        if problem:
            raise self.damaged(problem)
        return data

    def damaged(self, why: str) -> SweboardError:
        return SweboardError(f"{self.path}: damaged ({why}); no call is made until it is repaired: restore it from a "
                             "backup, or fix the JSON by hand (it records spending per provider; deleting it resets "
                             "every budget)")

    def reserve(self, provider: Provider, cost_bound: float, model_id: str | None = None,
                ttl_seconds: float = 3600.0) -> tuple[str | None, str | None]:
        """Count one upstream call and hold its worst-case cost if the budgets allow it.

        Returns (refusal, reservation id): a refusal says why not (nothing counted); otherwise
        `settle(reservation id, dollars)` must follow the call. Held reservations count against
        the dollar cap, so parallel calls cannot overshoot it together; a reservation left by a
        killed process is charged at its bound (`charge_orphans`): its call may have been billed.
        """
        day = _today()  # read once: a call crossing midnight counts on one day only
        now = time.time()
        with self._locked() as data:
            entry = data.setdefault(provider.name, {"calls_by_day": {}, "dollars": 0.0})
            held = entry.setdefault("reserved", {})
            charge_orphans(entry, now)
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
            held[rid] = {"dollars": round(cost_bound, 8), "expires": round(now + ttl_seconds, 1),
                         "pid": os.getpid(), "pid_start": process_start(os.getpid())}
            return None, rid

    def settle(self, provider: Provider, reservation: str | None, dollars: float) -> None:
        """Replace a call's held bound by what it cost (0 for a call that was never answered). A
        reservation already charged at its bound (its holder looked dead) is not charged twice."""
        with self._locked() as data:
            entry = data.setdefault(provider.name, {"calls_by_day": {}, "dollars": 0.0})
            held = entry.setdefault("reserved", {})
            if reservation is not None and reservation not in held and \
                    any(u.get("reservation") == reservation for u in entry.get("unsettled", [])):
                return
            held.pop(reservation, None)
            entry["dollars"] = round(entry["dollars"] + dollars, 8)

    def add_cost(self, provider: Provider, dollars: float) -> None:
        self.settle(provider, None, dollars)

    def usage(self, provider: Provider) -> dict:
        data = self._read()
        entry = data.get(provider.name, {"calls_by_day": {}, "dollars": 0.0})
        return {"calls_today": entry["calls_by_day"].get(_today(), 0), "dollars": entry["dollars"],
                "reserved": round(sum(v["dollars"] for v in entry.get("reserved", {}).values()), 8)}
