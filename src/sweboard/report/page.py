"""`runs/leaderboard.html`: the page an analyst opens first.

One section per run, latest first: the headline columns (model, runner, pass@1 with its 95 %
interval, pass@K, cost per task and per resolved task, latency P50/P90, status), every other
column behind an expander, a cost-vs-pass@1 Pareto chart with interval whiskers and the
frontier, a model x repo heatmap and the attempts' outcome classes per model. Every number
links to the manifest it came from. Static: no JavaScript, no CDN; it opens from disk offline.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

from sweboard.report import grid, svg, validity

HEADLINE = ("model", "runner", "rank", "pass@1", "pass@K", "delta_vs_baseline", "cost_per_task",
            "cost_per_resolved", "latency_p50_s", "latency_p90_s", "status")
PERCENT = ("pass@1", "pass@K", "delta_vs_baseline")  # fractions shown as percentages on the page (the CSV keeps 0-1)


def _fmt(value) -> str:
    if value == "" or value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _pct(value) -> str:
    return f"{value * 100:.1f}%" if isinstance(value, (int, float)) else ""


def _headline_value(col: str, row: dict, value):
    """What an analyst reads: percentages with n/N, dollars, and why a cell is empty when it says so."""
    if col == "pass@1" and value != "":
        return f"{_pct(value)} ({row.get('resolved', '?')}/{row.get('instances', '?')} resolved)"
    if col in PERCENT and value != "":
        return ("+" if col == "delta_vs_baseline" and value > 0 else "") + _pct(value)
    if col.startswith("cost") and value != "":
        return f"${value:.4f}" if value < 1 else f"${value:,.2f}"
    if col == "cost_per_resolved" and value == "" and row.get("resolved") == 0:
        return "n/a (0 resolved)"
    return value


def _cell(col: str, row: dict, link: str, headline: bool = False) -> str:
    value = row.get(col, "")
    if headline:
        shown = _headline_value(col, row, value)
        if col == "pass@1" and value != "":
            pct = round(float(value) * 100)
            ci = ""
            if row.get("pass@1_these_tasks_ci_low", "") != "":  # the plan's gates ask this one: it leads
                ci += (f'<small class="ci">95% on these tasks: {_pct(row["pass@1_these_tasks_ci_low"])} to '
                       f'{_pct(row["pass@1_these_tasks_ci_high"])}</small>')
            if row.get("pass@1_ci_low", "") != "":
                ci += (f'<small class="ci">95% on tasks like these: {_pct(row["pass@1_ci_low"])} to '
                       f'{_pct(row["pass@1_ci_high"])}</small>')
            return f'<a href="{link}"><span class="bar" style="--w:{pct}%">{escape(shown)}</span></a>{ci}'
        if col == "model":  # the model leads to its attempts in the run's grid: one click to a cell
            return f'<a href="#{escape(str(row["run_id"]))}-grid" title="its attempts, task by task">{escape(str(value))}</a>'
        if shown is not value:
            return f'<a href="{link}">{escape(str(shown))}</a>' if value != "" else escape(str(shown))
    if isinstance(value, (int, float)) and not isinstance(value, bool) and col not in ("rank_group", "rank"):
        return f'<a href="{link}">{escape(_fmt(value))}</a>'
    return escape(_fmt(value))


def _table(cols, rows, link, cls) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in cols)
    body = "\n".join(f'<tr class="{escape(r["kind"])}">' + "".join(
        f'<td class="{escape(c)}" data-label="{escape(c)}">{_cell(c, r, link, cls == "headline")}</td>' for c in cols)
        + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>'


def _total_cost(rows: list[dict]) -> str:
    costs = [r.get("cost_usd") for r in rows]
    if any(not isinstance(c, (int, float)) for c in costs):
        return "total cost unknown (an attempt has no usage record)"
    return f"total cost ${sum(costs):.4f}"


def _reused(rows: list[dict]) -> str:
    """How many verdicts were reused (an identical patch already graded on the same image and evaluator)."""
    n = sum(r.get("verdicts_reused") or 0 for r in rows)
    return f'<span class="reused">{n} verdict{"" if n == 1 else "s"} reused from identical patches</span>'


def _signed(manifest: dict, base: str) -> str:
    """`, signed off by NAME at T` (linking the memo) once someone validated the run (sweboard.memo)."""
    signs = [s for s in manifest.get("sign_offs") or [] if isinstance(s, dict)]
    text = "; ".join(f"signed off by {s.get('name')} at {s.get('at')}" for s in signs)
    if not text:
        return ""
    return f', <a href="{base}{escape(manifest["run_id"])}/validation.md">{escape(text)}</a>'


def _run_notes(manifest: dict, rows: list[dict]) -> str:
    """What this run cannot show, said where its numbers are: too few tasks to tell models apart, and
    no within-task variance (K = 1 or early stopping) to say what a rerun would move."""
    from sweboard.stats import min_flips_to_detect

    notes = []
    n, need = len(manifest["slice"]["instance_ids"]), min_flips_to_detect()
    if n < need:
        notes.append(f"{n} tasks: no two models can be told apart on these tasks (the exact paired test needs "
                     f"{need} tasks flipping one way), so every model shares rank 1.")
    batches = [b for b in manifest["batches"].values() if b.get("kind") != "baseline"]
    if batches and all(b.get("stop_after_resolved", True) or (b.get("attempts_per_task") or 1) < 2 for b in batches):
        notes.append("No within-task variance (one attempt per task, or stopping at the first resolved): this run "
                     "cannot say how far a rerun would move a row. Run with --all-attempts --attempts 2 for that "
                     "(the rerun gate needs it).")
    return "".join(f'<p class="note">{escape(x)}</p>' for x in notes)


def render(path: Path, cols: tuple[str, ...], rows: list[dict], manifests: list[dict], breakdown: list[dict],
           err_columns: tuple[str, ...], hidden: int = 0, base: str = "") -> Path:
    """`base`: the way from the page's folder to runs/ ("" for runs/leaderboard.html, "../" for a run's own page)."""
    by_run: dict[str, list[dict]] = {}
    for r in rows:
        by_run.setdefault(r["run_id"], []).append(r)
    created = {m["run_id"]: m.get("created_at") or "" for m in manifests}
    sections = []
    run_order = sorted(by_run, key=lambda rid: (created.get(rid, ""), rid), reverse=True)
    for run_id in run_order:
        run_rows = by_run[run_id]
        link = f"{base}{escape(run_id)}/manifest.json"
        m = next(x for x in manifests if x["run_id"] == run_id)
        cells = {(b["model"], b["repo"]): b for b in breakdown if b["run_id"] == run_id}
        repos = sorted({repo for _, repo in cells})
        models = [r["model"] for r in run_rows if any((r["model"], repo) in cells for repo in repos)]
        sections.append(f"""<section class="run" id="{escape(run_id)}">
<h2>Run <a href="{link}">{escape(run_id)}</a></h2>
<p class="meta">{escape(m['dataset_lock']['repo_id'])}@{escape(m['dataset_lock']['revision'])}, split
{escape(m['slice']['split'])}, {len(m['slice']['instance_ids'])} tasks; created {escape(created.get(run_id, ''))};
run status {escape(str(m.get('status')))}{_signed(m, base)}; {_total_cost(run_rows)}; {_reused(run_rows)}. <a href="{base}{escape(run_id)}/pairwise.csv">pairwise
comparisons</a> (pass@1 differences with 95% intervals and exact paired tests)</p>
{_run_notes(m, run_rows)}
<nav class="contents" aria-label="contents of run {escape(run_id)}">Run contents: <a href="#{escape(run_id)}-headline">headline</a>
&middot; <a href="#{escape(run_id)}-charts">charts</a> &middot; <a href="#{escape(run_id)}-grid">tasks &times; models</a></nav>
<div class="scroll" id="{escape(run_id)}-headline">{_table(HEADLINE, run_rows, link, "headline")}</div>
<details><summary>All {len(cols)} columns</summary>{_table(cols, run_rows, link, "full")}</details>
<div class="charts" id="{escape(run_id)}-charts">
<figure><figcaption>Cost per task vs pass@1 (whiskers: 95% interval; dashed: the frontier)</figcaption>{svg.pareto(run_rows)}</figure>
<figure><figcaption>pass@1 by repo (tasks in brackets)</figcaption>{svg.heatmap(models, repos, cells) if repos else '<p class="note">No scored rows.</p>'}</figure>
<figure><figcaption>Attempts by outcome class</figcaption>{svg.failure_bars(run_rows, err_columns)}</figure>
</div>
<div id="{escape(run_id)}-grid">{grid.grid(m, [r["model"] for r in run_rows], base)}</div>
{validity.block(m, base)}
</section>""")
    # a run's own page is titled by its run (a browser tab, a bookmark, a screenshot say which run it is)
    title = f"sweboard: run {next(iter(by_run))}" if base and len(by_run) == 1 else "sweboard leaderboard"
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin: .5em 0; }} th, td {{ border: 1px solid #ccc; padding: 3px 6px; white-space: nowrap; }}
td.status {{ white-space: normal; min-width: 10em; max-width: 18em; }}
table.headline td.model {{ white-space: normal; overflow-wrap: anywhere; max-width: 15em; }}
th {{ background: #f2f2f2; }} a {{ color: inherit; }}
tr.test-equipment td {{ color: #666; font-style: italic; }} tr.baseline td {{ background: #fafafa; }}
.bar {{ display: inline-block; min-width: 3.5em; color: #222; font-style: normal;
  background: linear-gradient(90deg, #c7e9c0 var(--w), transparent var(--w)); }}
section.run {{ border-top: 2px solid #888; margin-top: 1.5em; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 1.5em; }} figure {{ margin: 0; }} figcaption {{ font-weight: 600; }}
details {{ overflow-x: auto; max-width: 100%; }} .note {{ color: #666; }}
table.grid td {{ white-space: nowrap; vertical-align: top; }} .o-resolved {{ color: #0a6b1f; font-weight: 600; }}
a.ev {{ font-size: 90%; color: #1a4f8b; }}
a.skip {{ position: absolute; left: -999px; }} a.skip:focus {{ position: static; }} nav.contents {{ margin: .3em 0; }}
.scroll {{ overflow-x: auto; max-width: 100%; }} small.ci {{ display: block; color: #555; }} svg.chart {{ max-width: none; height: auto; }}
figure {{ max-width: 100%; min-width: 0; overflow-x: auto; }} p {{ overflow-wrap: anywhere; }}
@media (max-width: 600px) {{ body {{ margin: .5em; }} th, td {{ padding: 2px 4px; }} td.status {{ min-width: 10em; }}
  /* a card per model: the model, then pass@1 (n/N, interval), cost per task and status first */
  table.headline thead {{ display: none; }}
  table.headline, table.headline tbody {{ display: block; }}
  table.headline tr {{ display: flex; flex-wrap: wrap; border: 1px solid #bbb; margin: 0 0 .6em; padding: .3em; }}
  table.headline td {{ display: block; border: 0; white-space: normal; max-width: none; order: 5; }}
  table.headline td::before {{ content: attr(data-label) ": "; color: #555; }}
  table.headline td.model {{ order: 0; width: 100%; font-weight: 600; }} table.headline td.model::before {{ content: ""; }}
  table.headline td.pass\\@1 {{ order: 1; width: 100%; }} table.headline td.cost_per_task {{ order: 2; }}
  table.headline td.status {{ order: 3; width: 100%; }} }}
</style></head><body>
<a class="skip" href="#runs">Skip to the runs</a>
<h1>{escape(title)}</h1>
<p>Every number comes from the linked <code>manifest.json</code> of its run. A score is shown only when the row's
status is <em>ok</em>; otherwise the cell is empty and the status says why. Rates are percentages here (with n/N; the
CSV keeps fractions 0&ndash;1), with 95% intervals. Two questions, named: a row's interval is about <em>tasks like these</em> (the tasks as a sample of their
repos) and is not adjusted for the number of rows, so two disjoint row intervals are not a test; <code>rank</code> and
the pairwise comparisons are about <em>these tasks</em> (paired by task): rank = 1 + the number of rows significantly
better (exact paired test, Holm over the models' pairs; the baseline is compared on its own). Rows of kind
<em>test-equipment</em> come from the scripted offline provider and are never a model's result.
Definitions: docs/metrics.md. Data: <a href="leaderboard.csv">leaderboard.csv</a>,
<a href="{base}leaderboard_by_repo.csv">by repo</a>, <a href="{base}leaderboard_by_difficulty.csv">by difficulty</a>{
'' if not base else ', <a href="../leaderboard.html">every run</a>'}.</p>
{f'<p class="note">{hidden} unfinished run{"" if hidden == 1 else "s"} not shown (generate_leaderboard.py --all-runs shows them; leaderboard.csv has every row).</p>' if hidden else ''}
<nav aria-label="runs on this page"><p>Runs: {" &middot; ".join(f'<a href="#{escape(r)}">{escape(r)}</a>' for r in run_order) or "none"}</p></nav>
<main id="runs">{''.join(sections) or '<p>No finished runs yet.</p>'}</main>
</body></html>
"""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path
