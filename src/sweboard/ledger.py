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

    def reserve(self, provider: Provider, cost_bound: float) -> str | None:
        """Count one upstream call if the budgets allow it; else return why not (nothing counted)."""
        day = _today()  # read once: a call crossing midnight counts on one day only
        with self._locked() as data:
            entry = data.setdefault(provider.name, {"calls_by_day": {}, "dollars": 0.0})
            today = entry["calls_by_day"].get(day, 0)
            if provider.daily_call_quota is not None and today >= provider.daily_call_quota:
                return f"{provider.name} daily call quota exhausted ({today}/{provider.daily_call_quota} calls on {day} UTC)"
            if provider.dollar_cap is not None and entry["dollars"] + cost_bound > provider.dollar_cap:
                return (f"{provider.name} dollar cap reached (${entry['dollars']:.4f} spent + ${cost_bound:.4f} "
                        f"bound for this call > ${provider.dollar_cap:.2f})")
            entry["calls_by_day"][day] = today + 1
            return None

    def add_cost(self, provider: Provider, dollars: float) -> None:
        with self._locked() as data:
            entry = data.setdefault(provider.name, {"calls_by_day": {}, "dollars": 0.0})
            entry["dollars"] = round(entry["dollars"] + dollars, 8)

    def usage(self, provider: Provider) -> dict:
        data = self._read()
        entry = data.get(provider.name, {"calls_by_day": {}, "dollars": 0.0})
        return {"calls_today": entry["calls_by_day"].get(_today(), 0), "dollars": entry["dollars"]}
