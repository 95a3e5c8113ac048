"""The page's task x model grid per run: every attempt of every row, each leading to its evidence.

Why: "why did this model fail that task?" must be two clicks from the board, not four hops through
JSON. A cell lists the task's attempts for that model, in order, each as its outcome class linked to
the attempt's `record.json` (the patch, the exit status, the calls), with its trajectory, the
evaluator's `test_output.txt` and `report.json` beside it. Links are run-relative paths from the
run's own manifest; anything absolute or climbing out of the run is shown as text, never linked.
"""

from __future__ import annotations

from html import escape

from sweboard.outcomes import task_outcomes

MAX_TASKS = 600  # a page stays readable; the manifest has every attempt
SHORT = {"resolved": "resolved", "unresolved": "unresolved", "empty_patch": "empty"}


def _href(base: str, run_id: str, rel) -> str | None:
    if not isinstance(rel, str) or not rel or rel.startswith("/") or ".." in rel.split("/"):
        return None
    return f"{base}{escape(run_id)}/{escape(rel)}"


def _a(href: str | None, text: str, cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f'<a{c} href="{href}">{escape(text)}</a>' if href else f"<span{c}>{escape(text)}</span>"


def _attempt(base: str, run_id: str, a: dict, graded: dict) -> str:
    """The attempt's outcome, linked to its own page (attempt_page.py) once the run's pages exist, else
    to its record; then its record, trajectory, test output and report."""
    from sweboard.paths import runs_dir
    from sweboard.report.attempt_page import page_name

    outcome = str(a.get("outcome") or "")
    page = page_name(a.get("record") or "")
    main = page if page and (runs_dir() / run_id / page).is_file() else a.get("record")
    parts = [_a(_href(base, run_id, main), f"#{a.get('attempt')} {SHORT.get(outcome, outcome)}", f"o-{escape(outcome)}")]
    if main != a.get("record"):
        parts.append(_a(_href(base, run_id, a.get("record")), "record", "ev"))
    trajectory = _href(base, run_id, a.get("trajectory"))
    if trajectory:
        parts.append(_a(trajectory, "traj", "ev"))
    for key, label in (("test_output", "tests"), ("instance_report", "report")):
        href = _href(base, run_id, graded.get(key))
        if href:
            parts.append(_a(href, label, "ev"))
    return " ".join(parts)


def grid(manifest: dict, models: list[str], base: str = "") -> str:
    """The run's grid: tasks down, the board's rows (in board order) across."""
    run_id = manifest["run_id"]
    models = [m for m in models if m in manifest.get("batches", {})]
    outcomes = {m: task_outcomes(manifest, m) for m in models}
    graded = {m: {iid: {v.get("attempt"): v for v in lst}
                  for iid, lst in ((manifest.get("evaluations", {}).get(m) or {}).get("instances") or {}).items()}
              for m in models}
    tasks = sorted({iid for per in outcomes.values() for iid in per})
    if not tasks:
        return ""
    head = "".join(f"<th scope=\"col\">{escape(m)}</th>" for m in models)
    body = []
    for iid in tasks[:MAX_TASKS]:
        cells = []
        for m in models:
            attempts = outcomes[m].get(iid) or []
            cells.append("<td>" + "<br>".join(_attempt(base, run_id, a, graded[m].get(iid, {}).get(a.get("attempt"), {}))
                                              for a in attempts) + "</td>")
        body.append(f"<tr><th scope=\"row\">{escape(iid)}</th>{''.join(cells)}</tr>")
    more = (f'<p class="note">{len(tasks) - MAX_TASKS} more tasks: the run\'s manifest.json lists them.</p>'
            if len(tasks) > MAX_TASKS else "")
    return (f'<details class="grid" open><summary>Every attempt, task by model ({len(tasks)} tasks): each links its '
            f"record (patch, exit, calls), trajectory, test output and the evaluator's report</summary>"
            f'<div class="scroll"><table class="grid"><thead><tr><th scope="col">task</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>{more}</details>")
