"""Hand-drawn inline SVG charts: a cost-vs-pass@1 Pareto chart, a model x repo heatmap, failure bars.

Why by hand: the page must open from disk with no JavaScript or CDN, and these three charts are a
few dozen shapes each; a plotting library would add a heavy dependency for that.
"""

from __future__ import annotations

from html import escape

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def _num(v):
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def model_colour(model: str) -> str:
    """A model keeps its colour in every run's section (from its id, not its position)."""
    import hashlib

    return PALETTE[int(hashlib.sha256(model.encode()).hexdigest(), 16) % len(PALETTE)]


def nice_ticks(top: float, n: int = 4) -> list[float]:
    """Round tick values from 0 to at least `top` (1, 2, 2.5 or 5 times a power of ten)."""
    import math

    if top <= 0:
        return []
    raw = top / n
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return [round(i * step, 12) for i in range(0, math.ceil(top / step - 1e-9) + 1)]


def _money(v: float) -> str:
    return f"${v:,.2f}" if v >= 1 else f"${v:.4g}"


def _spread(ys: list[float], gap: float, low: float, high: float) -> list[float]:
    """Label positions: in the points' order, at least `gap` apart, inside [low, high]."""
    out: list[float] = []
    for yv in ys:
        out.append(max(yv, out[-1] + gap) if out else max(yv, low))
    overflow = out[-1] - high if out else 0
    if overflow > 0:  # pushed past the bottom: shift everything up (still gap apart)
        out = [v - overflow for v in out]
        for i in range(len(out) - 2, -1, -1):
            out[i] = min(out[i], out[i + 1] - gap)
    return out


def pareto(rows: list[dict], width: int = 680, height: int = 320) -> str:
    """pass@1 (with its 95 % interval as a whisker) against cost per task; the frontier (no other model
    is both cheaper and better) is joined by a line. Labels sit in a column on the right, never on top
    of each other, each joined to its point. Rows without both numbers are left out and listed."""
    pts = [r for r in rows if _num(r.get("pass@1")) is not None and _num(r.get("cost_per_task")) is not None]
    longest = max([len(str(r["model"])) for r in pts] + [0])
    left, right, top, bottom = 60, max(200, 7 * longest + 24), 20, 45
    width = max(width, left + right + 420)  # a long id widens the chart (it scrolls) instead of being cut
    w, h = width - left - right, height - top - bottom
    ticks = nice_ticks(max([r["cost_per_task"] for r in pts] + [0.0]))
    max_cost = ticks[-1] if ticks and ticks[-1] > 0 else 1.0
    x = lambda c: left + w * (c / max_cost)  # noqa: E731
    y = lambda p: top + h * (1 - p)  # noqa: E731
    said = "; ".join(f"{r['model']}: pass@1 {r['pass@1'] * 100:.0f}% at ${r['cost_per_task']:.4f} a task" for r in pts)
    parts = [f'<svg class="chart pareto" role="img" aria-label="cost versus pass@1: {escape(said or "nothing to plot")}" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
             f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="#fbfbfb" stroke="#999"/>']
    for i in range(0, 6):
        p = i / 5
        parts.append(f'<line x1="{left}" x2="{left + w}" y1="{y(p):.1f}" y2="{y(p):.1f}" stroke="#e5e5e5"/>'
                     f'<text x="{left - 6}" y="{y(p) + 4:.1f}" text-anchor="end" font-size="11">{p * 100:.0f}%</text>')
    for c in ticks:
        parts.append(f'<text x="{x(c):.1f}" y="{top + h + 15}" text-anchor="middle" font-size="11">{_money(c)}</text>')
    if not pts:
        parts.append(f'<text x="{left + w / 2}" y="{top + h / 2}" text-anchor="middle" font-size="12" fill="#555">'
                     "nothing to plot: no row has both a score and a cost</text>")
    parts.append(f'<text x="{left + w / 2}" y="{height - 5}" text-anchor="middle" font-size="12">cost per task (USD)</text>'
                 f'<text x="14" y="{top + h / 2}" text-anchor="middle" font-size="12" '
                 f'transform="rotate(-90 14 {top + h / 2})">pass@1 (95% CI)</text>')
    frontier = sorted((r for r in pts if not any(o is not r and o["cost_per_task"] <= r["cost_per_task"]
                                                 and o["pass@1"] >= r["pass@1"]
                                                 and (o["cost_per_task"], o["pass@1"]) != (r["cost_per_task"], r["pass@1"])
                                                 for o in pts)), key=lambda r: r["cost_per_task"])
    if len(frontier) > 1:
        path = " ".join(f"{x(r['cost_per_task']):.1f},{y(r['pass@1']):.1f}" for r in frontier)
        parts.append(f'<polyline class="frontier" points="{path}" fill="none" stroke="#444" stroke-dasharray="4 3"/>')
    order = sorted(pts, key=lambda r: (y(r["pass@1"]), r["model"]))
    label_y = dict(zip((id(r) for r in order), _spread([y(r["pass@1"]) for r in order], 13, top + 4, top + h + 4)))
    for r in pts:
        color = model_colour(r["model"])
        cx, cy = x(r["cost_per_task"]), y(r["pass@1"])
        lo, hi = _num(r.get("pass@1_ci_low")), _num(r.get("pass@1_ci_high"))
        if lo is not None and hi is not None:
            parts.append(f'<line class="whisker" x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(lo):.1f}" y2="{y(hi):.1f}" '
                         f'stroke="{color}" stroke-width="2"/>')
        on = r in frontier
        ly, lx = label_y[id(r)], left + w + 10
        parts.append(f'<circle class="point{" on-frontier" if on else ""}" cx="{cx:.1f}" cy="{cy:.1f}" r="{6 if on else 4}" '
                     f'fill="{color}" stroke="#222"><title>{escape(r["model"])}: pass@1 {r["pass@1"]} '
                     f'[{lo}, {hi}], ${r["cost_per_task"]}/task</title></circle>'
                     f'<line class="leader" x1="{cx:.1f}" y1="{cy:.1f}" x2="{lx - 2:.1f}" y2="{ly - 4:.1f}" stroke="{color}" '
                     f'stroke-opacity="0.35"/>'
                     f'<text class="label" x="{lx:.1f}" y="{ly:.1f}" font-size="11">{escape(r["model"])}</text>')
    parts.append("</svg>")
    missing = [r["model"] for r in rows if r not in pts]
    note = (f'<p class="note">Not plotted (no score or no cost): {escape(", ".join(missing))}.</p>' if missing else "")
    return "".join(parts) + note


def heatmap(models: list[str], repos: list[str], cells: dict[tuple[str, str], dict]) -> str:
    """pass@1 per model and repo: darker green is higher; a blank cell had no scored tasks."""
    cw, ch, left, top = 90, 26, 260, 110
    width, height = left + cw * len(repos) + 90, top + ch * len(models) + 10
    said = "; ".join(f"{m} on {r}: {cells[(m, r)]['pass@1'] * 100:.0f}% of {cells[(m, r)]['tasks']} tasks"
                     for m in models for r in repos if (m, r) in cells)
    parts = [f'<svg class="chart heatmap" role="img" aria-label="pass@1 by model and repo: {escape(said)}" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">']
    for j, repo in enumerate(repos):
        tx = left + j * cw + cw / 2
        parts.append(f'<text x="{tx:.1f}" y="{top - 8}" font-size="11" transform="rotate(-35 {tx:.1f} {top - 8})">'
                     f'{escape(repo)}</text>')
    for i, model in enumerate(models):
        parts.append(f'<text x="{left - 8}" y="{top + i * ch + 17}" text-anchor="end" font-size="11">{escape(model)}</text>')
        for j, repo in enumerate(repos):
            cell = cells.get((model, repo))
            if cell is None:
                parts.append(f'<rect x="{left + j * cw}" y="{top + i * ch}" width="{cw - 2}" height="{ch - 2}" '
                             f'fill="#fff" stroke="#ddd"/>')
                continue
            p = cell["pass@1"]
            green = int(235 - 150 * p)
            parts.append(f'<rect class="cell" x="{left + j * cw}" y="{top + i * ch}" width="{cw - 2}" height="{ch - 2}" '
                         f'fill="rgb({green},{int(245 - 60 * p)},{green})"><title>{escape(model)} / {escape(repo)}: '
                         f'pass@1 {p} on {cell["tasks"]} tasks</title></rect>'
                         f'<text x="{left + j * cw + cw / 2:.1f}" y="{top + i * ch + 17}" text-anchor="middle" '
                         f'font-size="11">{p * 100:.0f}% ({cell["tasks"]})</text>')
    parts.append("</svg>")
    return "".join(parts)


# One colour per outcome class, never shared: the model's failures warm, infrastructure's greys
# (never mistaken for the model's), graded green.
OUTCOME_COLOURS = {
    "resolved": "#1a9850", "unresolved": "#d9d9d9", "empty patch": "#f4e3b0",
    "err_malformed_patch": "#d62728", "err_patch_apply_failed": "#ff7f0e",
    "err_path_not_found": "#8c564b", "err_timeout": "#1f77b4", "err_step_limit": "#9467bd",
    "err_malformed_output": "#e377c2", "err_context_overflow": "#bcbd22", "err_agent": "#17becf",
    "err_provider_error": "#7f7f7f", "err_rate_limited": "#b0b0b0", "err_infra": "#4d4d4d",
}
GRADED_CLASSES = {"resolved": "attempts_resolved", "unresolved": "attempts_unresolved", "empty patch": "attempts_empty"}


def _luminance(hex_colour: str) -> float:
    """WCAG relative luminance of #rrggbb."""
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two #rrggbb colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def ink_on(fill: str) -> str:
    """Black or white, whichever reads better on `fill` (every fill here gives >= 4.5:1 with one)."""
    return "#000000" if contrast(fill, "#000000") >= contrast(fill, "#ffffff") else "#ffffff"


def _outcome_counts(r: dict, err_columns: tuple[str, ...]) -> dict[str, int]:
    counts = {c: r.get(key) if isinstance(r.get(key), int) else 0 for c, key in GRADED_CLASSES.items()}
    counts.update({c: r.get(c) if isinstance(r.get(c), int) else 0 for c in err_columns})
    return counts


def failure_bars(rows: list[dict], err_columns: tuple[str, ...], width: int = 560) -> str:
    """Per model, its attempts by outcome class (resolved, unresolved and empty patches as graded by
    the evaluator, then each err_* class). Bars are in absolute counts (one attempt is as long in
    every row, and each bar ends with n=), every count is printed in ink that reads on its colour,
    and the legend lists every class drawn, all of it inside the chart."""
    classes = [*GRADED_CLASSES, *err_columns]
    spare = iter(PALETTE)
    colors = {c: OUTCOME_COLOURS.get(c) or next(spare, "#000000") for c in classes}
    left, bar_h, top, label_w = 220, 18, 10, 50
    counted = [_outcome_counts(r, err_columns) for r in rows]
    most = max([sum(c.values()) for c in counted] + [1])
    drawn = [c for c in classes if any(counts[c] for counts in counted)]
    legend, lx, ly = [], left, 0
    for c in drawn:  # lay the legend out first, so the chart is tall enough for all of it
        step = 14 + 7 * len(c) + 24
        if lx + step > width + left and lx > left:
            lx, ly = left, ly + 16
        legend.append((c, lx, ly))
        lx += step
    bars_bottom = top + (bar_h + 6) * len(rows)
    height = bars_bottom + 12 + ly + 22
    summary = "; ".join(f"{r['model']}: " + ", ".join(f"{counts[c]} {c}" for c in classes if counts[c])
                        for r, counts in zip(rows, counted))
    parts = [f'<svg class="chart failures" role="img" aria-label="attempt outcomes per model: {escape(summary)}" '
             f'width="{width + left + label_w}" height="{height}" viewBox="0 0 {width + left + label_w} {height}">']
    for i, (r, counts) in enumerate(zip(rows, counted)):
        yy = top + i * (bar_h + 6)
        parts.append(f'<text x="{left - 8}" y="{yy + 13}" text-anchor="end" font-size="11">{escape(r["model"])}</text>')
        xx = left
        for c in classes:
            if counts[c]:
                bw = width * counts[c] / most
                parts.append(f'<rect class="seg {c.replace(" ", "-")}" x="{xx:.1f}" y="{yy}" width="{bw:.1f}" '
                             f'height="{bar_h}" fill="{colors[c]}"><title>{escape(r["model"])}: {c} {counts[c]}'
                             f'</title></rect>')
                if bw >= 18:
                    parts.append(f'<text class="count" x="{xx + bw / 2:.1f}" y="{yy + 13}" text-anchor="middle" '
                                 f'font-size="11" fill="{ink_on(colors[c])}">{counts[c]}</text>')
                xx += bw
        parts.append(f'<text class="total" x="{xx + 4:.1f}" y="{yy + 13}" font-size="11">n={sum(counts.values())}</text>')
    for c, x, y in legend:
        yy = bars_bottom + 12 + y
        parts.append(f'<rect class="key" x="{x:.1f}" y="{yy}" width="11" height="11" fill="{colors[c]}" '
                     f'stroke="#555"/><text x="{x + 14:.1f}" y="{yy + 10}" font-size="11">{escape(c)}</text>')
    parts.append("</svg>")
    return "".join(parts)
