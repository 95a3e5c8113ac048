"""One page per attempt (`runs/<run_id>/pages/<model>/<task>/attempt-<k>.html`): the evidence behind a
grid cell, readable without opening JSON.

Why: "why did this model fail that task?" is answered by the problem, the patch, what the agent did
step by step, and what the evaluator saw. The page puts them in that order: the problem statement,
the patch (diff-highlighted), the trajectory (thought, command, output; long outputs folded), the
verdict with FAIL_TO_PASS / PASS_TO_PASS results and `test_output.txt`, and the calls with tokens,
cost and latency; every section links the file it was read from. Static HTML, no JavaScript.
Everything shown came from the model or its container: it is escaped, bounded in size, and read
only through `untrusted.confined_file` (a regular file inside the attempt's folder, reached through
no link). Written once when the run's board is (a finished run does not change).
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from sweboard.untrusted import confined_file, message_text, relative_name

MAX_READ = 4 << 20  # bytes read from any one file
FOLD = 1500  # characters after which a step's output is folded


def _read(path: Path | None, limit: int = MAX_READ) -> str | None:
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            return f.read(limit).decode("utf-8", errors="replace")
    except OSError:
        return None


def _json(path: Path | None):
    text = _read(path)
    try:
        return json.loads(text) if text else None
    except (ValueError, RecursionError):
        return None


def _pre(text: str, cls: str = "") -> str:
    return f'<pre class="{cls}">{escape(text)}</pre>'


def _folded(text: str, label: str) -> str:
    if len(text) <= FOLD:
        return _pre(text)
    return f"<details><summary>{escape(label)} ({len(text)} characters)</summary>{_pre(text)}</details>"


def diff_html(patch: str) -> str:
    """A unified diff, each line classed by what it does (added, removed, hunk, file)."""
    lines = []
    for line in patch.splitlines():
        cls = ("file" if line.startswith(("+++", "---", "diff ")) else "add" if line.startswith("+")
               else "del" if line.startswith("-") else "hunk" if line.startswith("@@") else "ctx")
        lines.append(f'<span class="{cls}">{escape(line)}</span>')
    return '<pre class="diff">' + "\n".join(lines) + "</pre>" if lines else "<p>(empty patch)</p>"


def _content(value) -> str:
    return message_text(value, "\n")


def steps(data) -> list[tuple[str, str, str]]:
    """(thought, command, output) per step, from mini-swe-agent's trajectory.json (messages) or
    SWE-agent's .traj (its `trajectory` steps)."""
    out: list[tuple[str, str, str]] = []
    if isinstance(data, dict) and isinstance(data.get("trajectory"), list):
        for s in data["trajectory"]:
            if isinstance(s, dict):
                out.append((_content(s.get("thought")), _content(s.get("action")), _content(s.get("observation"))))
        return out
    messages = data.get("messages") if isinstance(data, dict) else data if isinstance(data, list) else []
    for m in messages or []:
        if not isinstance(m, dict):
            continue
        role, text = m.get("role"), _content(m.get("content"))
        if role == "assistant":
            actions = (m.get("extra") or {}).get("actions") if isinstance(m.get("extra"), dict) else None
            command = "\n".join(a.get("command", "") for a in actions if isinstance(a, dict)) if isinstance(actions, list) else ""
            out.append((text, command, ""))
        elif role in ("user", "tool") and out and not out[-1][2]:
            out[-1] = (out[-1][0], out[-1][1], text)
        elif role in ("system", "user") and not out:
            continue
    return out


def _trajectory(folder: Path, record: dict, att: str) -> str:
    path = confined_file(folder, record.get("trajectory"))
    data = _json(path)
    if data is None:
        return "<p>No trajectory was kept for this attempt.</p>"
    rows = []
    for i, (thought, command, output) in enumerate(steps(data)[:400], 1):
        rows.append(f'<li><p class="thought">{escape(thought[:4000])}</p>'
                    + (f'<pre class="command">{escape(command[:4000])}</pre>' if command else "")
                    + (_folded(output, f"output of step {i}") if output else "") + "</li>")
    return (f'<p><a href="{escape(att + relative_name(record.get("trajectory")))}">{escape(path.name)}</a></p>'
            + (f'<ol class="steps">{"".join(rows)}</ol>' if rows else "<p>(no steps)</p>"))


def _tests(folder: Path, verdict: dict | None, run_dir: Path, instance_id: str, att: str, to_run: str) -> str:
    if not verdict:
        return "<p>Not graded (the manifest's status says why).</p>"
    out = [f"<p>verdict <strong>{escape(str(verdict.get('verdict')))}</strong>"
           f"{' (' + escape(str(verdict.get('error_class'))) + ')' if verdict.get('error_class') else ''}; "
           f"evaluator {escape(str((verdict.get('evaluator') or {}).get('package')))} "
           f"{escape(str((verdict.get('evaluator') or {}).get('version')))}; "
           f'<a href="{escape(att)}verdict.json">verdict.json</a></p>']
    report_path = confined_file(run_dir, verdict.get("instance_report"))
    report = _json(report_path)
    status = ((report or {}).get(instance_id) or {}).get("tests_status") if isinstance(report, dict) else None
    if isinstance(status, dict):
        for group in ("FAIL_TO_PASS", "PASS_TO_PASS"):
            g = status.get(group) if isinstance(status.get(group), dict) else {}
            ok, bad = g.get("success") or [], g.get("failure") or []
            out.append(f"<h3>{group}: {len(ok)} passed, {len(bad)} failed</h3>"
                       + ("<ul>" + "".join(f'<li class="fail">{escape(str(t)[:300])}</li>' for t in bad[:200]) + "</ul>"
                          if bad else ""))
    output_path = confined_file(run_dir, verdict.get("test_output"))
    output = _read(output_path, 256 << 10)
    if output is not None:
        out.append(f'<h3><a href="{escape(to_run + relative_name(verdict["test_output"]))}">test_output.txt</a></h3>'
                   + _folded(output, "the evaluator's test output"))
    return "".join(out)


def _calls(record: dict, att: str) -> str:
    usage = record.get("usage") if isinstance(record.get("usage"), dict) else {}
    cells = [(k, usage.get(k)) for k in ("model_calls", "failed_calls", "retries", "prompt_tokens", "completion_tokens",
                                          "cost_usd") if isinstance(usage.get(k), (int, float)) and not isinstance(usage.get(k), bool)]
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in cells)
    latencies = sorted(x for x in usage.get("latencies_s") or [] if isinstance(x, (int, float)) and not isinstance(x, bool))
    if latencies:
        rows += (f"<tr><th>latency per call (s)</th><td>median {latencies[len(latencies) // 2]:.2f}, "
                 f"slowest {latencies[-1]:.2f}, {len(latencies)} calls</td></tr>")
    duration = record.get("duration_seconds")
    if isinstance(duration, (int, float)) and not isinstance(duration, bool):
        rows += f"<tr><th>duration_seconds</th><td>{duration:.1f}</td></tr>"
    return (f'<table class="calls">{rows}</table><p>From <a href="{escape(att)}record.json">record.json</a>.</p>'
            if rows else "<p>No calls recorded.</p>")


def render(run_id: str, model: str, instance_id: str, attempt: dict, record: dict, verdict: dict | None,
           problem: str, folder: Path, run_dir: Path, to_run: str, att: str) -> str:
    """`to_run`: the way from the page to the run's folder; `att`: to the attempt's own folder."""
    back = to_run + "leaderboard.html"
    title = f"{model} on {instance_id}, attempt {attempt.get('attempt')}: {attempt.get('outcome')}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 110em; }}
pre {{ background: #f6f6f6; padding: .5em; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; }}
pre.diff .add {{ background: #e6ffec; color: #0a3d1a; }} pre.diff .del {{ background: #ffebe9; color: #6b0d0d; }}
pre.diff .hunk {{ color: #1a4f8b; }} pre.diff .file {{ font-weight: 600; }}
ol.steps li {{ margin-bottom: 1em; }} p.thought {{ white-space: pre-wrap; }} li.fail {{ color: #8b1a1a; }}
table.calls th {{ text-align: left; padding-right: 1em; }}
</style></head><body>
<p><a href="{escape(back)}">&larr; run {escape(run_id)}</a></p>
<h1>{escape(title)}</h1>
<nav>Sections: <a href="#problem">problem</a> &middot; <a href="#patch">patch</a> &middot; <a href="#steps">trajectory</a>
&middot; <a href="#tests">tests</a> &middot; <a href="#calls">calls</a> &middot; <a href="{escape(att)}record.json">record.json</a></nav>
<h2 id="problem">Problem statement</h2>{_folded(problem, "the problem statement") if problem else "<p>(not in the run's dataset.jsonl)</p>"}
<h2 id="patch">Patch</h2>{diff_html(str(record.get("patch") or ""))}
<h2 id="steps">Trajectory</h2>{_trajectory(folder, record, att)}
<h2 id="tests">What the evaluator saw</h2>{_tests(folder, verdict, run_dir, instance_id, att, to_run)}
<h2 id="calls">Calls</h2>{_calls(record, att)}
</body></html>
"""


def problems(run_dir: Path) -> dict[str, str]:
    """instance_id -> problem statement, from the run's own dataset.jsonl (bounded)."""
    out: dict[str, str] = {}
    text = _read(confined_file(run_dir, "dataset.jsonl"), 64 << 20) or ""
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get("instance_id"), str):
            out[row["instance_id"]] = str(row.get("problem_statement") or "")[:20000]
    return out


def page_name(record_rel: str) -> str | None:
    """`attempts/<model>/<task>/attempt-<k>/record.json` -> `pages/<model>/<task>/attempt-<k>.html`."""
    name = relative_name(record_rel)
    if not name or not name.startswith("attempts/") or not name.endswith("/record.json"):
        return None
    return "pages/" + name[len("attempts/"):-len("/record.json")] + ".html"


def write_pages(manifest: dict, run_dir: Path) -> int:
    """Every attempt's page, once: an existing page is left as it is (the grid links the pages that
    exist). Returns how many were written."""
    from sweboard.outcomes import task_outcomes
    from sweboard.records import VERDICT

    made = 0
    texts = None
    for model in manifest.get("batches", {}):
        for iid, per in task_outcomes(manifest, model).items():
            for a in per:
                rel = page_name(a.get("record") or "")
                record_path = confined_file(run_dir, a.get("record"))
                if rel is None or record_path is None:
                    continue
                target = run_dir / rel
                if target.exists():
                    continue
                texts = problems(run_dir) if texts is None else texts
                folder = record_path.parent
                record = _json(record_path) or {}
                verdict = _json(confined_file(folder, VERDICT))
                to_run = "../" * rel.count("/")
                att = to_run + relative_name(a["record"])[:-len("record.json")]
                html = render(manifest["run_id"], model, iid, a, record if isinstance(record, dict) else {},
                              verdict if isinstance(verdict, dict) else None, texts.get(iid, ""), folder, run_dir,
                              to_run, att)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(html)
                made += 1
    return made
