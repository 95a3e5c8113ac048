"""The analyst's page, rendered in a real headless browser: sections, table, charts drawn, no JavaScript."""

import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from test_leaderboard import attempt, manifest

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA PNG (what Chromium writes) into rows of pixel bytes."""
    data = path.read_bytes()
    pos, chunks = 8, []
    width = height = bpp = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    raw = zlib.decompress(b"".join(chunks))
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, bpp, rows


@pytest.fixture
def page(home):
    from sweboard.cli import generate_leaderboard

    ids = ("a__x-1", "a__x-2", "b__y-1", "c__z-1")
    good = {t: [attempt(1, cost=0.02)] for t in ids}
    m = manifest("run-page", {"model/a": good, "model/b": good, "base": good},
                 {"model/a": {t: ["resolved"] for t in ids}, "model/b": {t: ["resolved", "unresolved"][i % 2:i % 2 + 1]
                                                                     for i, t in enumerate(ids)},
                  "base": {t: ["empty_patch"] for t in ids}}, ids=ids)
    m["created_at"] = "2026-11-26T00:00:00Z"
    m["evaluations"]["model/b"]["instances"]["a__x-2"][0]["reused_from"] = "attempts/model__a/a__x-2/attempt-1/verdict.json"
    (home / "runs" / "run-page").mkdir()
    (home / "runs" / "run-page" / "manifest.json").write_text(json.dumps(m))
    assert generate_leaderboard([]) == 0
    return home / "runs" / "leaderboard.html"


def test_the_page_is_static_and_links_every_number(page):
    html = page.read_text()
    assert "<script" not in html and "http://" not in html and "https://" not in html, "no JavaScript, no CDN"
    assert html.count('<section class="run"') == 1 and 'href="run-page/manifest.json"' in html
    assert '<svg class="chart pareto"' in html and 'class="chart heatmap"' in html and 'class="chart failures"' in html
    assert html.count('class="point') == 3 and html.count("on-frontier") >= 1 and 'class="whisker"' in html
    assert "<details>" in html and (page.parent / "run-page" / "pairwise.csv").is_file()
    assert '<span class="reused">1 verdict reused from identical patches</span>' in html
    assert '<th>verdicts_reused</th>' in html
    # what an analyst reads: percentages with n/N, dollars, the run's total, and why a cell is empty
    assert "100.0% (4/4 resolved)" in html and "50.0% (2/4 resolved)" in html and "n/a (0 resolved)" in html
    assert "$0.0200" in html and "total cost $0.2400" in html and "<th>delta_vs_baseline</th>" in html


@pytest.mark.skipif(BROWSER is None, reason="no chromium here (Debian's `chromium` package installs it)")
def test_a_real_browser_draws_the_table_and_the_charts(page, tmp_path):
    shot = tmp_path / "page.png"
    proc = subprocess.run([BROWSER, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1300,1400",
                           f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert shot.is_file(), proc.stderr[-2000:]
    dom = subprocess.run([BROWSER, *FLAGS, f"--user-data-dir={tmp_path / 'profile2'}", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert "model/a" in dom and "<circle" in dom and "<rect" in dom
    width, bpp, rows = png_pixels(shot)
    # The frontier point and the bars are coloured, not grey: count saturated pixels on the page.
    colored = 0
    for line in rows:
        for i in range(0, width * bpp, bpp):
            r, g, b = line[i], line[i + 1], line[i + 2]
            if max(r, g, b) - min(r, g, b) > 60:
                colored += 1
    assert colored > 2000, f"only {colored} coloured pixels: the charts were not drawn"


def _measure(page: Path, tmp_path: Path, width: int, height: int, name: str) -> dict:
    """Lay the page out in Chromium in a frame of exactly this size (a headless window is at least
    500 px wide, so the phone width is a frame); a wrapper page reports the layout into its DOM: the
    page's scroll width against its width (the headline scrolls inside its own box), the legend's
    keys and the bars' colours. A screenshot of the frame is kept beside it."""
    probe = page.with_name(f"probe-{name}.html")
    probe.write_text(f"""<!doctype html><html><body style="margin:0">
<iframe id="f" src="{page.name}" style="width:{width}px;height:{height}px;border:0"></iframe>
<script>
document.getElementById('f').addEventListener('load', () => {{
  const d = document.getElementById('f').contentDocument;
  const r = {{sw: d.documentElement.scrollWidth, cw: d.documentElement.clientWidth, keys: [], fills: []}};
  for (const k of d.querySelectorAll('svg.failures rect.key')) r.keys.push(k.getAttribute('fill'));
  for (const s of d.querySelectorAll('svg.failures rect.seg')) r.fills.push(s.getAttribute('fill'));
  const svg = d.querySelector('svg.failures'); const texts = [...d.querySelectorAll('svg.failures text')];
  r.legend_inside = texts.every(t => t.getBBox().y + t.getBBox().height <= svg.viewBox.baseVal.height);
  r.labels = [...d.querySelectorAll('svg.pareto text.label')].map(t => {{ const b = t.getBBox();
    return [b.x, b.y, b.x + b.width, b.y + b.height]; }});
  document.body.setAttribute('data-layout', JSON.stringify(r));
}});
</script></body></html>""")
    flags = [*FLAGS, "--allow-file-access-from-files", f"--window-size={max(width, 500)},{height}"]
    shot = tmp_path / f"page-{name}.png"
    subprocess.run([BROWSER, *flags, f"--user-data-dir={tmp_path / ('p' + name)}", f"--screenshot={shot}",
                    probe.as_uri()], capture_output=True, text=True, timeout=120)
    dom = subprocess.run([BROWSER, *flags, f"--user-data-dir={tmp_path / ('d' + name)}", "--virtual-time-budget=3000",
                          "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120).stdout
    import html as htmllib
    import re

    raw = re.search(r'data-layout="([^"]*)"', dom)
    assert raw, dom[-2000:]
    return {**json.loads(htmllib.unescape(raw.group(1))), "shot": shot}


@pytest.mark.skipif(BROWSER is None, reason="no chromium here (Debian's `chromium` package installs it)")
@pytest.mark.parametrize("width, height", [(1400, 1000), (390, 844)])
def test_the_page_reads_on_a_desktop_and_a_phone(page, tmp_path, width, height):
    layout = _measure(page, tmp_path, width, height, str(width))
    assert layout["sw"] <= layout["cw"] <= width, f"the page itself scrolls sideways at {width}px: {layout}"
    assert layout["shot"].is_file()
    assert set(layout["fills"]) <= set(layout["keys"]), "every colour drawn has a legend entry"
    assert layout["legend_inside"], "the legend is cut off"
    assert len(set(layout["keys"])) == len(layout["keys"]), "one colour per class"
    boxes = layout["labels"]
    assert len(boxes) == 3
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], ("scatter labels overlap", a, b)
    print(f"{width}x{height}: page {layout['sw']}px wide; screenshot {layout['shot']}")


def test_each_finished_run_has_its_own_board_and_unfinished_runs_stay_off_the_page(page, home):
    from sweboard.cli import generate_leaderboard

    ids = ("a__x-1",)
    open_run = manifest("run-open", {"m": {ids[0]: [attempt(1)]}}, {"m": {ids[0]: ["resolved"]}}, ids=ids)
    open_run["status"] = "running"
    (home / "runs" / "run-open").mkdir()
    (home / "runs" / "run-open" / "manifest.json").write_text(json.dumps(open_run))
    assert generate_leaderboard([]) == 0
    html = page.read_text()
    assert 'id="run-open"' not in html and "1 unfinished run not shown" in html
    assert 'id="run-page"' in html
    assert "run-open" in (home / "runs" / "leaderboard.csv").read_text(), "the CSV keeps every row"
    own = home / "runs" / "run-page"
    assert (own / "leaderboard.csv").is_file() and (own / "leaderboard.html").is_file()
    assert 'href="../run-page/manifest.json"' in (own / "leaderboard.html").read_text()
    assert "<title>sweboard: run run-page</title>" in (own / "leaderboard.html").read_text(), "its tab names the run"
    assert "<title>sweboard leaderboard</title>" in html
    assert not (home / "runs" / "run-open" / "leaderboard.csv").exists(), "an unfinished run has no board of its own"
    sidecar = json.loads((home / "runs" / "leaderboard.columns.json").read_text())
    types = {c["name"]: c["type"] for c in sidecar["columns"]}
    assert types["resolved"] == "integer" and types["pass@1"] == "fraction" and types["cost_per_task_usd"] == "usd"
    assert all(c["description"] for c in sidecar["columns"]), "every column described"
    before = (own / "leaderboard.csv").read_bytes()
    assert generate_leaderboard(["--all-runs"]) == 0 and 'id="run-open"' in page.read_text()
    assert (own / "leaderboard.csv").read_bytes() == before, "a finished run's board is written once"


def test_scatter_labels_never_sit_on_each_other_and_ticks_are_round():
    import re

    from sweboard.report.svg import model_colour, pareto

    rows = [{"model": m, "pass@1": 0.5, "pass@1_ci_low": 0.2, "pass@1_ci_high": 0.8, "cost_per_task": 0.001217}
            for m in ("scripted/slow", "scripted/ratelimited", "scripted/solver")]
    svg = pareto(rows)
    ys = sorted(float(y) for y in re.findall(r'<text class="label" x="[\d.]+" y="([\d.]+)"', svg))
    assert len(ys) == 3 and all(b - a >= 13 for a, b in zip(ys, ys[1:])), ys
    ticks = re.findall(r'font-size="11">(\$[^<]+)</text>', svg)
    assert ticks == ["$0", "$0.0005", "$0.001", "$0.0015"], ticks
    assert model_colour("scripted/solver") == model_colour("scripted/solver") and "nothing to plot" in pareto([])


def test_the_grid_leads_from_each_cell_to_the_attempts_evidence():
    from sweboard.report.grid import grid

    a1, a2 = attempt(1), attempt(2)
    a1["record"], a1["trajectory"] = "attempts/m/t1/attempt-1/record.json", "attempts/m/t1/attempt-1/trajectory.json"
    a2["record"], a2["trajectory"] = "../../etc/passwd", "/etc/shadow"
    m = manifest("G", {"m": {"t1": [a1, a2], "t2": [attempt(1)]}},
                 {"m": {"t1": ["unresolved", "resolved"], "t2": ["resolved"]}})
    m["evaluations"]["m"]["instances"]["t1"][0]["test_output"] = "evaluation/m/e1/logs/t1/test_output.txt"
    html = grid(m, ["m", "not-in-run"], base="")
    assert '<th scope="row">t1</th>' in html and '<th scope="row">t2</th>' in html and "not-in-run" not in html
    assert 'href="G/attempts/m/t1/attempt-1/record.json">#1 unresolved</a>' in html
    assert 'href="G/attempts/m/t1/attempt-1/trajectory.json">traj</a>' in html
    assert 'href="G/evaluation/m/e1/logs/t1/test_output.txt">tests</a>' in html
    assert "etc/passwd" not in html
    assert "/etc/shadow" not in html, "a path that leaves the run is never linked"
    assert '<span class="o-resolved">#2 resolved</span>' in html, "shown as text instead"


def test_a_run_page_says_what_the_run_cannot_show():
    from sweboard.report.page import _run_notes
    from test_leaderboard import attempt, manifest

    ids = ("a__x-1", "a__x-2", "b__y-1")
    small = manifest("R", {"m": {t: [attempt(1)] for t in ids}}, {"m": {t: ["resolved"] for t in ids}}, ids=ids)
    notes = _run_notes(small, [])
    assert "3 tasks: no two models can be told apart on these tasks" in notes
    assert "No within-task variance" in notes and "--all-attempts --attempts 2" in notes
    many = tuple(f"r{i}__x-{i}" for i in range(8))
    full = manifest("R", {"m": {t: [attempt(1), attempt(2)] for t in many}},
                    {"m": {t: ["resolved", "unresolved"] for t in many}}, ids=many, stop_after_resolved=False)
    full["batches"]["m"]["attempts_per_task"] = 2
    assert _run_notes(full, []) == "", "8 tasks, two attempts each, all ran: nothing to warn about"


def test_numbers_in_the_csv_never_use_exponent_notation(tmp_path):
    import csv

    from sweboard.leaderboard import plain_number, write_csv

    assert plain_number(1e-06) == "0.000001" and plain_number(2.5e-11) == "0" and plain_number(0.25) == 0.25
    assert plain_number(-3e-05) == "-0.00003" and plain_number(7) == 7 and plain_number("1e-06") == "1e-06"
    path = write_csv(tmp_path / "b.csv", ("model", "cost_per_task"), [{"model": "m", "cost_per_task": 4e-06}])
    assert next(csv.DictReader(path.open()))["cost_per_task"] == "0.000004"


def test_the_outcome_chart_counts_attempts_and_every_label_reads_on_its_colour():
    import re

    from sweboard.outcomes import ERR_COLUMNS
    from sweboard.report import svg

    rows = [{"model": "a" * 40, "attempts_total": 20, "attempts_failed": 6, "attempts_resolved": 9,
             "attempts_unresolved": 4, "attempts_empty": 1, "err_infra": 3, "err_timeout": 3},
            {"model": "b", "attempts_total": 1, "attempts_failed": 0, "attempts_resolved": 1, "attempts_unresolved": 0,
             "attempts_empty": 0}]
    chart = svg.failure_bars(rows, ERR_COLUMNS)
    widths = {}
    for cls, width in re.findall(r'<rect class="seg ([\w-]+)" x="[\d.]+" y="10" width="([\d.]+)"', chart):
        widths[cls] = float(width)
    assert widths["resolved"] == pytest.approx(560 * 9 / 20, abs=0.1) and "unresolved" in widths, "resolved apart"
    [b_resolved] = re.findall(r'<rect class="seg resolved" x="[\d.]+" y="34" width="([\d.]+)"', chart)
    assert float(b_resolved) == pytest.approx(560 / 20, abs=0.1), "one attempt is as long in every row"
    assert "n=20" in chart and "n=1" in chart
    assert "a" * 40 + ": 9 resolved, 4 unresolved, 1 empty patch, 3 err_timeout, 3 err_infra" in chart, "aria-label"
    for fill, ink in re.findall(r'fill="(#[0-9a-f]{6})"><title>[^<]*</title></rect><text class="count"[^>]*fill="(#[0-9a-f]{6})"',
                                chart):
        assert svg.contrast(fill, ink) >= 4.5, (fill, ink)
    for colour in svg.OUTCOME_COLOURS.values():
        assert svg.contrast(colour, svg.ink_on(colour)) >= 4.5, colour
    assert not re.search(r'font-size="(\d+)"', chart.replace('font-size="11"', "").replace('font-size="12"', ""))
