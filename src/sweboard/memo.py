"""`runs/<run_id>/validation.md`: the run's validation memo, and the sign-off that makes it the plan's.

Why: the plan's i1 asks for a validation memo and for "human validation that results are solid".
The evidence is scattered over the manifest, the preflight record, validity.json and a rerun's
comparison; the memo gathers it in one page a person reads before signing: the slice and lock,
the preflight, the exit gates with PASS / FAIL / N/A and their evidence, the error classes, the
variance a rerun showed, what the validity checks found, and the cost. A sign-off (`--sign-off
NAME`) is appended to the manifest's `sign_offs` (never rewritten: who validated which memo,
when), and the board shows the run as signed. The memo is a derived report, rewritten only when
asked (`tools/validation_memo.py`); the drivers write it once when their run finishes.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from sweboard.errors import SweboardError
from sweboard.manifest import append_sign_off, require_manifest, run_dir, utc_now
from sweboard.outcomes import ERR_COLUMNS

MEMO = "validation.md"
SIGNER = re.compile(r"^[A-Za-z][A-Za-z0-9 .'@_-]{0,79}$")


def memo_path(run_id: str) -> Path:
    return run_dir(run_id) / MEMO


def _lines_slice(m: dict) -> list[str]:
    lock, sl = m["dataset_lock"], m["slice"]
    return ["## Slice and lock", "",
            f"- dataset `{lock['repo_id']}` at revision `{lock['revision']}`, split `{sl['split']}`",
            f"- {len(sl['instance_ids'])} tasks, instance_ids_sha256 `{sl.get('instance_ids_sha256', '')}`"
            + (f", section `{sl['section']}`" if sl.get("section") else ""), ""]


def _lines_preflight(m: dict) -> list[str]:
    rec = m.get("preflight") or {}
    out = ["## Preflight", ""]
    if not rec:
        return out + ["- no preflight recorded for this run (run a driver, or tools/preflight.py, first)", ""]
    out.append(f"- {'passed' if rec.get('passed') else 'FAILED'} at {rec.get('finished_at', '?')}, runner "
               f"{rec.get('runner', '?')}")
    for s in rec.get("steps") or []:
        out.append(f"  - {s.get('name')}: {'ok' if s.get('ok') else 'FAIL'} ({s.get('seconds')} s) {s.get('detail', '')}")
    return out + [""]


def _lines_gates(m: dict, against: str | None) -> list[str]:
    from sweboard.compare import NA, compare, gates, reproduction_gate

    out = ["## Exit gates (the plan's i1/i2)", ""]
    if against:
        comparisons, first, _ = compare(against, m["run_id"])
        results = gates(m, comparisons, first=first) + [reproduction_gate(comparisons)]
    else:
        results = gates(m, []) + [("reruns reproduce within normal variance", NA,
                                   "no rerun given: tools/validation_memo.py --run-id R --against RERUN")]
    out += [f"- **{state}** {name}: {detail}" for name, state, detail in results]
    return out + [""]


def _lines_errors(m: dict) -> list[str]:
    from sweboard.leaderboard import batch_metrics

    out = ["## Error classes (share of each model's attempts)", "",
           "| model | kind | attempts | " + " | ".join(ERR_COLUMNS) + " |",
           "|---|---|---|" + "---|" * len(ERR_COLUMNS)]
    for model_id, batch in m["batches"].items():
        row = batch_metrics(m, model_id)
        n = row["attempts_total"] or 0
        cells = [f"{row[c]} ({row[c] / n:.0%})" if n else "—" for c in ERR_COLUMNS]
        out.append(f"| {model_id} | {batch['kind']} | {n} | " + " | ".join(cells) + " |")
    return out + [""]


def _lines_variance(m: dict, against: str | None) -> list[str]:
    from sweboard import rerun_gate

    out = ["## Variance", ""]
    for model_id, batch in m["batches"].items():
        if batch.get("kind") == "baseline":
            continue
        rate = rerun_gate.reference_rate(m, model_id)
        out.append(f"- {model_id}: within-task flip rate "
                   + (f"{rate:.3f}" if rate is not None else "not measured (needs --all-attempts, K >= 2)"))
    if against:
        first = require_manifest(against)
        for model_id in m["batches"]:
            if model_id in first["batches"] and m["batches"][model_id].get("kind") != "baseline":
                out.append(f"  - against {against}: {rerun_gate.check(model_id, first, m).line()}")
    return out + [""]


def _lines_validity(m: dict) -> list[str]:
    from sweboard.validity.report import findings

    f = findings(m)
    audits = f["image_history"]
    out = ["## Validity", "",
           f"- image history audit: {len(audits)} images audited, "
           + (f"leaking: {', '.join(f['images_leaking'])}" if f["images_leaking"] else "none reaches past its base commit"),
           f"- attempts flagged by the trajectory scan: {len(f['flagged'])} ({f['resolved_flagged']} of them resolved)",
           f"- grader flips (a regrade disagreed): {len(f['grader_flips'])}", ""]
    return out


def _lines_cost(m: dict) -> list[str]:
    from sweboard.leaderboard import batch_metrics

    out = ["## Cost", ""]
    total, unknown = 0.0, []
    for model_id in m["batches"]:
        cost = batch_metrics(m, model_id).get("cost_usd", "")
        if isinstance(cost, (int, float)):
            total += cost
            out.append(f"- {model_id}: ${cost:.4f}")
        else:
            unknown.append(model_id)
    out.append(f"- total: ${total:.4f}" + (f" (unknown for {', '.join(unknown)})" if unknown else ""))
    return out + [""]


def _lines_sign_offs(m: dict) -> list[str]:
    signs = m.get("sign_offs") or []
    if not signs:
        return ["## Sign-off", "", "- not signed off (tools/validation_memo.py --run-id R --sign-off NAME)", ""]
    return ["## Sign-off", ""] + [f"- signed off by {s['name']} at {s['at']} (memo sha256 {s['memo_sha256'][:12]})"
                                  for s in signs] + [""]


def render(run_id: str, against: str | None = None) -> str:
    m = require_manifest(run_id)
    head = [f"# Validation memo: run {run_id}", "",
            f"Written {utc_now()} by tools/validation_memo.py from runs/{run_id}/manifest.json (run status "
            f"{m.get('status')})" + (f", compared with the rerun's first run {against}" if against else "") + ".", ""]
    body = (_lines_slice(m) + _lines_preflight(m) + _lines_gates(m, against) + _lines_errors(m)
            + _lines_variance(m, against) + _lines_validity(m) + _lines_cost(m))
    return "\n".join(head + body + _lines_sign_offs(m))


def write(run_id: str, against: str | None = None, sign_off: str | None = None) -> Path:
    """Write the memo; with `sign_off`, append who signed it (and the memo they read) to the manifest."""
    m = require_manifest(run_id)
    if sign_off is not None:
        if not SIGNER.match(sign_off):
            raise SweboardError(f"--sign-off: expected a name (letters first, up to 80 of letters, digits, space, "
                                f".'@_-), got {sign_off!r}")
        if m.get("status") != "finished":
            raise SweboardError(f"runs/{run_id}: status {m.get('status')!r}; only a finished run can be signed off")
    text = render(run_id, against)
    if sign_off is not None:
        entry = {"name": sign_off, "at": utc_now(), "memo_sha256": hashlib.sha256(text.encode()).hexdigest(),
                 "against": against}
        append_sign_off(run_id, entry)
        text = render(run_id, against)
    target = memo_path(run_id)
    tmp = target.with_name(f".{MEMO}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, target)
    return target
