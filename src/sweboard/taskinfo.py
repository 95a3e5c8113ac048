"""What a slice's tasks are made of: gold-patch size and test counts, so slice choices can be checked.

Read from the locked rows when they are available without a network (the local HF cache, or the
bundled set); otherwise the slice's own ids, difficulty and rationale are listed alone.
"""

from __future__ import annotations

import json
import re

from sweboard.errors import SweboardError
from sweboard.instances import Slice


def patch_size(patch: str) -> dict:
    """Files, hunks and changed lines (added + removed) of a unified diff."""
    return {"files": len(re.findall(r"^diff --git ", patch, re.M)),
            "hunks": len(re.findall(r"^@@ ", patch, re.M)),
            "lines": sum(1 for line in patch.splitlines()
                         if line[:1] in "+-" and not line.startswith(("+++ ", "--- ")))}


def _count(tests) -> int:
    return len(json.loads(tests) if isinstance(tests, str) else tests)


def rows_if_cached(sl: Slice) -> dict[str, dict] | None:
    """The slice's locked rows by id, if they can be read with no download; else None."""
    import os

    from sweboard.dataset_lock import load_locked_rows

    if not sl.dataset_lock.is_file():
        return None
    old = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        _, rows = load_locked_rows(sl.dataset_lock, sl.split, list(sl.instance_ids))
    except SweboardError:
        return None
    finally:
        if old is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = old
    return {r["instance_id"]: r for r in rows}


def describe(sl: Slice) -> str:
    rows = rows_if_cached(sl)
    head = f"{'instance':40} {'difficulty':10} " + (f"{'files':>5} {'hunks':>5} {'lines':>5} {'F2P':>4} {'P2P':>4}  "
                                                     if rows else "") + "why"
    lines = [head]
    for iid in sl.instance_ids:
        size = ""
        if rows:
            r = rows[iid]
            ps = patch_size(r["patch"])
            size = (f"{ps['files']:>5} {ps['hunks']:>5} {ps['lines']:>5} {_count(r['FAIL_TO_PASS']):>4} "
                    f"{_count(r['PASS_TO_PASS']):>4}  ")
        lines.append(f"{iid:40} {sl.difficulty.get(iid, '-'):10} {size}{sl.rationale.get(iid, '')}")
    if rows is None:
        lines.append(f"(gold-patch sizes need the locked rows of {sl.dataset_lock.name} in the local HF cache; "
                     "tools/update_dataset_lock.py fetches them)")
    return "\n".join(lines)
