"""The page's "Was it earned?" block per run: the image history audit, attempts that looked up the answer,
grader flips, export self-checks — each finding linked to its evidence (validity/report.py)."""

from __future__ import annotations

from html import escape

from sweboard.validity.report import findings


def _link(base: str, run_id: str, rel: str | None, text: str) -> str:
    return f'<a href="{base}{escape(run_id)}/{escape(rel)}">{escape(text)}</a>' if rel else escape(text)


def block(manifest: dict, base: str = "") -> str:
    found = findings(manifest)
    run_id = manifest["run_id"]
    audits = found["image_history"]
    leaking = found["images_leaking"]
    lines = [f'<section class="validity" aria-label="validity checks of run {escape(run_id)}"><h3>Was it earned?</h3><ul>']
    if audits:
        sanitized = sum(1 for a in audits.values() if a.get("sanitized"))
        lines.append(f"<li>Image history: {len(audits)} task images audited; "
                     + (f"<strong>{len(leaking)} reach beyond their base commit</strong> ("
                        + ", ".join(f"{escape(i)}: {escape(str(audits[i].get('summary', '')))}" for i in leaking)
                        + (f"); {sanitized} ran on sanitized images" if sanitized else ")")
                        if leaking else "none reaches beyond its base commit") + "</li>")
    else:
        lines.append("<li>Image history: not audited in this run</li>")
    flagged = found["flagged"]
    lines.append(f"<li>Look-ups of the answer in the agents' commands: {len(flagged)} "
                 f"({found['resolved_flagged']} in resolved attempts)</li>")
    flips = found["grader_flips"]
    lines.append(f"<li>Grader flips (independent gradings that disagreed): {len(flips)}</li>")
    for e in found["exports"]:
        lines.append(f"<li>Export of {escape(str(e.get('model')))}: self-check "
                     f"{'matches the board' if e.get('matches') else '<strong>DIFFERS from the board</strong>'} "
                     f"({escape(str(e.get('folder', '')))})</li>")
    lines.append("</ul>")
    if flagged:
        lines.append('<table class="flags"><thead><tr><th>model</th><th>task</th><th>attempt</th><th>outcome</th>'
                     "<th>pattern</th><th>command</th></tr></thead><tbody>")
        for f in flagged[:200]:
            lines.append(f"<tr><td>{escape(f['model'])}</td><td>{escape(f['instance_id'])}</td>"
                         f"<td>{_link(base, run_id, f.get('trajectory'), '#' + str(f['attempt']))}</td>"
                         f"<td>{escape(f['outcome'])}</td><td>{escape(f['pattern'])}</td>"
                         f"<td><code>{escape(f['command'])}</code></td></tr>")
        lines.append("</tbody></table>")
    if flips:
        lines.append("<p>" + "; ".join(f"{escape(x['model'])} {escape(x['instance_id'])} #{x['attempt']}: "
                                       f"{escape(' / '.join(str(g) for g in x['gradings']))}" for x in flips[:50]) + "</p>")
    lines.append(f'<p class="note">{_link(base, run_id, "validity.json", "validity.json")} has every finding.</p></section>')
    return "\n".join(lines)
