"""i4 on the offline i3 slice (10 tasks, 5 repos) through tools/run_i4.sh: the v3 board, its breakdowns,
the pairwise file and the page, for real (the solver and the baseline, to keep CI's time)."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_board_identities

from sweboard.leaderboard import columns

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.docker, pytest.mark.slow]


def rows(path: Path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_run_i4_offline_writes_v3_breakdowns_pairwise_and_the_page(home, offline_images):
    proc = subprocess.run(["bash", str(ROOT / "tools" / "run_i4.sh"), "--offline", "--execute", "--run-id", "i4-off",
                           "--model", "scripted/solver", "--attempts", "1"], capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runs = home / "runs"
    board = {r["model"]: r for r in rows(runs / "leaderboard.csv") if r["run_id"] == "i4-off"}
    assert list(rows(runs / "leaderboard.csv")[0]) == list(columns("v6"))
    solver = board["scripted/solver"]
    assert (solver["status"], solver["resolved"], solver["instances"]) == ("ok", "10", "10")
    assert float(solver["pass@1_ci_low"]) < 1.0 == float(solver["pass@1_ci_high"])
    assert solver["ci_method"].startswith("exact Clopper-Pearson on tasks like these; repo design effect"), "one method"
    assert solver["ci_method"] == board["instant_empty_submit"]["ci_method"]
    assert solver["latency_n"] != "" and solver["verdicts_reused"] != ""
    assert float(solver["cost_per_task_usd"]) > 0 and float(solver["cost_per_resolved_usd"]) > 0
    assert solver["token_source"] == "provider 100%" and float(solver["latency_p50_s"]) >= 0
    assert solver["rank"] == "1" and board["instant_empty_submit"]["rank"] == "" and solver["beats_baseline"] == "True"
    assert_board_identities(runs / "leaderboard.csv")
    by_repo = [r for r in rows(runs / "leaderboard_by_repo.csv") if r["run_id"] == "i4-off" and r["model"] == "scripted/solver"]
    assert len({r["repo"] for r in by_repo}) >= 4 and sum(int(r["tasks"]) for r in by_repo) == 10
    by_difficulty = {r["difficulty"] for r in rows(runs / "leaderboard_by_difficulty.csv") if r["run_id"] == "i4-off"}
    assert by_difficulty == {"easy", "medium"}
    [pair] = rows(runs / "i4-off" / "pairwise.csv")
    assert pair["distinguishable"] == "True" and int(pair["only_b"]) + int(pair["only_a"]) == 10
    page = (runs / "leaderboard.html").read_text()
    assert 'id="i4-off"' in page and '<svg class="chart pareto"' in page and 'class="chart heatmap"' in page
    _every_grid_cell_reaches_its_attempt_page(runs / "i4-off" / "leaderboard.html")
    # the preflight ran first, on the same slice: its canary and solver runs stay off the board
    manifest = json.loads((runs / "i4-off" / "manifest.json").read_text())
    pf = manifest["preflight"]
    assert pf["passed"] and [s["name"] for s in pf["steps"]] == ["credentials", "probe", "images", "history", "canary", "solver"]
    assert pf["steps"][1]["detail"] == "skipped (offline: the scripted models that fail on purpose are not probed)", \
        "the offline set's failing models are not probed, and the line names no flag the user did not type"
    assert json.loads((runs / "i4-off.canary" / "manifest.json").read_text())["kind"] == "canary"
    assert json.loads((runs / "i4-off.solver" / "manifest.json").read_text())["kind"] == "preflight"
    on_board = {r["run_id"] for r in rows(runs / "leaderboard.csv")}
    assert "i4-off.canary" not in on_board and "i4-off.solver" not in on_board

    # the field's format: the SWE-bench experiments layout, one attempt (the first) per task
    out = home / "export"
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "export_submission.py"), "--run-id", "i4-off",
                           "--model", "scripted/solver", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    folder = Path(proc.stdout.strip().splitlines()[-1])
    assert folder.parent == out / "evaluation" / "testbench" and folder.name.endswith("_scripted_solver")
    assert "Resolved 10 instances (" in proc.stdout and "100.0% of the slice's 10" in proc.stdout
    check = json.loads((folder / "self_check.json").read_text())
    assert check["matches"] and check["regraded"] == 10 and len(check["resolved"]) == 10, check
    assert "matches the board" in (folder / "README.md").read_text()
    preds = [json.loads(line) for line in (folder / "all_preds.jsonl").read_text().splitlines()]
    assert len(preds) == 10 and set(json.loads((folder / "preds.json").read_text())) == {p["instance_id"] for p in preds}
    assert all(p["model_name_or_path"] == "scripted/solver" and p["model_patch"].startswith("diff --git") for p in preds)
    for p in preds:
        logs = folder / "logs" / p["instance_id"]
        assert {f.name for f in logs.iterdir()} == {"patch.diff", "report.json", "test_output.txt", "run_instance.log",
                                                     "eval.sh"}, logs
        assert json.loads((logs / "report.json").read_text())[p["instance_id"]]["resolved"] is True
        assert (folder / "trajs" / f"{p['instance_id']}.traj").is_file()
    meta = __import__("yaml").safe_load((folder / "metadata.yaml").read_text())
    assert list(meta) == ["info", "assets", "tags"] and meta["tags"]["system"] == {"attempts": "1"}
    assert set(meta["info"]) == {"name", "site", "report", "authors"} and meta["info"]["site"].startswith("TODO")
    assert "attempt 1 of every task" in (folder / "README.md").read_text()
    again = subprocess.run([sys.executable, str(ROOT / "tools" / "export_submission.py"), "--run-id", "i4-off",
                            "--model", "scripted/solver", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "never overwritten" in again.stderr
    print("exported:", *sorted(str(p.relative_to(out)) for p in folder.iterdir()))

    # and back: the exported predictions, imported into a run of their own, grade the same
    imported = subprocess.run([sys.executable, str(ROOT / "tools" / "run_evaluation.py"), "--predictions",
                               str(folder / "all_preds.jsonl"), "--model-name", "external/solver", "--run-id",
                               "i4-imported", "--offline", "--instances", str(ROOT / "config" / "instances_i3.yaml")],
                              capture_output=True, text=True, timeout=600)
    assert imported.returncode == 0, imported.stdout[-2000:] + imported.stderr[-2000:]
    assert imported.stdout.splitlines()[-1].startswith("next: tools/finish_run.py --run-id i4-imported && "), \
        "the last line says what to run"
    from sweboard.leaderboard import batch_metrics
    from sweboard.manifest import read_manifest

    row = batch_metrics(read_manifest("i4-imported"), "external/solver")
    assert (row["status"], row["resolved"], row["pass@1"]) == ("ok", 10, 1.0)
    assert row["cost_usd"] == "" and row["agent_time_s"] == "", "what happened elsewhere is unknown, not 0"
    bad = home / "bad_preds.jsonl"
    bad.write_text('{"instance_id": "not-in-the-slice", "model_patch": ""}\n')
    refused = subprocess.run([sys.executable, str(ROOT / "tools" / "run_evaluation.py"), "--predictions", str(bad),
                              "--model-name", "x", "--run-id", "i4-bad", "--offline", "--instances",
                              str(ROOT / "config" / "instances_i3.yaml")], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "outside the slice" in refused.stderr and not (home / "runs" / "i4-bad").exists()


def _every_grid_cell_reaches_its_attempt_page(page_path):
    """In a browser (Playwright on Debian's chromium): each grid cell's link opens its attempt's page, which
    shows the patch, the trajectory's steps and the evaluator's test output."""
    import shutil

    sync = pytest.importorskip("playwright.sync_api")
    browser_path = shutil.which("chromium")
    if not browser_path:
        pytest.skip("chromium not installed")
    with sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, args=["--no-sandbox", "--disable-gpu"])
        try:
            from test_page_browser import SMALLEST_TEXT

            from sweboard.report.svg import contrast

            for width, height in ((1400, 900), (390, 844)):  # the real run's page reads at both widths
                view = browser.new_page(viewport={"width": width, "height": height})
                view.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
                view.goto(page_path.as_uri())
                smallest, where = view.evaluate(SMALLEST_TEXT)
                assert smallest >= 11, (width, smallest, where)
                if width == 1400:
                    edges = view.evaluate("""() => [...document.querySelectorAll('table.headline')].map(t =>
                        [t.getBoundingClientRect().right, t.parentElement.getBoundingClientRect().right])""")
                    assert edges and all(right <= box + 1 for right, box in edges), edges
                    pairs = view.evaluate("""() => [...document.querySelectorAll('svg.chart text.count')].map(t =>
                        [t.previousElementSibling.getAttribute('fill'), t.getAttribute('fill')])""")
                    assert pairs and all(contrast(f, i) >= 4.5 for f, i in pairs), pairs
                view.close()
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
            page.goto(page_path.as_uri())
            links = page.locator("table.grid td a[class^=o-]")
            hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
            assert len(hrefs) >= 10 and all("/pages/" in h for h in hrefs), hrefs[:3]
            for href in hrefs:  # the headline's model cell leads to the grid; its cell to the evidence
                page.goto(page_path.as_uri())
                page.locator("table.headline tbody td.model a").first.click()
                page.locator(f'table.grid td a[href="{href}"]').first.click()
                page.wait_for_load_state()
                assert page.locator("h2#patch").count() == 1 and page.locator("#steps").count() == 1, href
                if "scripted__solver" in href:
                    assert page.locator("pre.diff span.add").count() > 0, href
                    assert page.locator("ol.steps li").count() > 0, href
                    assert "test_output.txt" in page.content(), href
        finally:
            browser.close()
