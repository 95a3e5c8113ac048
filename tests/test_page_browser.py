"""The page as an analyst reads it, measured in a real browser (Playwright driving Debian's chromium,
no browser download): at 1400 and 390 CSS px no text is under 11 px, the headline is not clipped
with 40-character model ids, chart labels read on their colours (>= 4.5:1), and at 390 px the
first screen of a model's card shows its score, cost and status."""

import json
import shutil

import pytest

from test_leaderboard import attempt, manifest

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not BROWSER, reason="chromium not installed (tools/ensure_chromium.sh)")

LONG = "organisation-name/a-model-id-of-forty-ch"  # 40 characters, like real catalog ids


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    import os

    from sweboard.cli import generate_leaderboard

    home = tmp_path_factory.mktemp("browser-home")
    shutil.copytree(os.path.join(os.path.dirname(__file__), "..", "config"), home / "config")
    for d in ("runs", "predictions", "secrets"):
        (home / d).mkdir()
    ids = tuple(f"r{i % 3}__x-{i}" for i in range(9))
    good = {t: [attempt(1, cost=0.02)] for t in ids}
    m = manifest("run-browser", {LONG: good, LONG[:-1] + "b": good, "base": good},
                 {LONG: {t: ["resolved"] for t in ids},
                  LONG[:-1] + "b": {t: ["resolved", "unresolved"][i % 2:i % 2 + 1] for i, t in enumerate(ids)},
                  "base": {t: ["empty_patch"] for t in ids}}, ids=ids)
    m["created_at"] = "2026-12-02T00:00:00Z"
    (home / "runs" / "run-browser").mkdir()
    (home / "runs" / "run-browser" / "manifest.json").write_text(json.dumps(m))
    old = os.environ.get("SWEBOARD_HOME")
    os.environ["SWEBOARD_HOME"] = str(home)
    try:
        assert generate_leaderboard([]) == 0
    finally:
        os.environ.pop("SWEBOARD_HOME") if old is None else os.environ.__setitem__("SWEBOARD_HOME", old)
    return home / "runs" / "run-browser" / "leaderboard.html"


def _open(pw, path, width, height):
    browser = pw.chromium.launch(executable_path=BROWSER, args=["--no-sandbox", "--disable-gpu"])
    page = browser.new_page(viewport={"width": width, "height": height})
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
    page.goto(path.as_uri())
    return browser, page


SMALLEST_TEXT = """() => {
  let smallest = 99, where = '';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || !el || el.closest('title') || el.closest('a.skip')) continue;
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    let size = parseFloat(style.fontSize);
    const svg = el.closest('svg');
    if (svg) {  // an SVG's text is drawn at its font-size times the svg's scale on screen
      const box = svg.getBoundingClientRect(), vb = svg.viewBox.baseVal;
      if (vb && vb.width) size = size * box.width / vb.width;
    }
    if (size < smallest) { smallest = size; where = node.textContent.trim().slice(0, 40); }
  }
  return [smallest, where];
}"""


@pytest.mark.parametrize("width, height", [(1400, 900), (390, 844)])
def test_no_text_under_11_px_and_the_headline_is_never_clipped(pages, width, height):
    with playwright.sync_playwright() as pw:
        browser, page = _open(pw, pages, width, height)
        try:
            smallest, where = page.evaluate(SMALLEST_TEXT)
            assert smallest >= 11, f"{smallest:.1f} px at {width} px: {where!r}"
            if width == 1400:
                clipped = page.evaluate("""() => [...document.querySelectorAll('table.headline')].map(t =>
                    [t.getBoundingClientRect().right, t.parentElement.getBoundingClientRect().right])""")
                assert clipped and all(right <= box + 1 for right, box in clipped), clipped
            else:  # the card: a model's pass@1, cost per task and status on the first screen
                card = page.locator("table.headline tbody tr").first
                for col in ("pass@1", "cost_per_task", "status"):
                    box = card.locator(f'td[data-label="{col}"]').bounding_box()
                    assert box and box["y"] + box["height"] <= height, (col, box)
                pass1 = card.locator('td[data-label="pass@1"]').bounding_box()
                first = page.locator("table.headline").bounding_box()
                assert pass1["y"] - first["y"] < 120, "pass@1 leads the card"
        finally:
            browser.close()


def test_every_chart_label_reads_on_its_colour(pages):
    from sweboard.report.svg import contrast

    with playwright.sync_playwright() as pw:
        browser, page = _open(pw, pages, 1400, 900)
        try:
            pairs = page.evaluate("""() => [...document.querySelectorAll('svg.chart text.count')].map(t =>
                [t.previousElementSibling.getAttribute('fill'), t.getAttribute('fill')])""")
        finally:
            browser.close()
    assert pairs, "the outcome chart prints its counts"
    assert all(contrast(fill, ink) >= 4.5 for fill, ink in pairs), pairs
