"""Each attempt's own page (issue 30): from a grid cell to the problem, the patch, the steps, the tests
and the calls, in static escaped HTML, every link resolving inside the run."""

import json
import os
import re
from pathlib import Path

from test_leaderboard import attempt, manifest

TASK = "a__x-1"


def _attempt_files(run: Path, hostile: bool = False) -> None:
    d = run / "attempts" / "m" / TASK / "attempt-1"
    d.mkdir(parents=True)
    patch = "diff --git a/u.py b/u.py\n--- a/u.py\n+++ b/u.py\n@@ -1 +1 @@\n-old\n+new <script>alert(1)</script>\n"
    (d / "record.json").write_text(json.dumps({"status": "submitted", "patch": patch, "trajectory": "trajectory.json",
                                               "duration_seconds": 12.5, "usage": {"model_calls": 3, "prompt_tokens": 120,
                                                                                   "completion_tokens": 30, "cost_usd": 0.002,
                                                                                   "latencies_s": [0.5, 2.0, 1.0]}}))
    messages = [{"role": "system", "content": "you fix bugs"}, {"role": "user", "content": "the issue"},
                {"role": "assistant", "content": "I will look at u.py", "extra": {"actions": [{"command": "cat u.py"}]}},
                {"role": "user", "content": "x" * 2000}]
    if hostile:
        (run.parent / "secret.txt").write_text("TOP SECRET")
        os.symlink(run.parent / "secret.txt", d / "trajectory.json")
    else:
        (d / "trajectory.json").write_text(json.dumps({"messages": messages}))
    logs = run / "eval" / TASK
    logs.mkdir(parents=True)
    (logs / "report.json").write_text(json.dumps({TASK: {"tests_status": {
        "FAIL_TO_PASS": {"success": ["test_new"], "failure": ["test_edge"]}, "PASS_TO_PASS": {"success": ["t1", "t2"], "failure": []}}}}))
    (logs / "test_output.txt").write_text("collected 4 items\nFAILED test_edge\n")
    (d / "verdict.json").write_text(json.dumps({"verdict": "unresolved", "evaluator": {"package": "swebench", "version": "5.0.2"},
                                                "instance_report": f"eval/{TASK}/report.json",
                                                "test_output": f"eval/{TASK}/test_output.txt"}))
    (run / "dataset.jsonl").write_text(json.dumps({"instance_id": TASK, "problem_statement": "Rounding is off by one"}) + "\n")


def _board(home, hostile=False):
    from sweboard.cli import generate_leaderboard

    a = attempt(1)
    a["record"] = f"attempts/m/{TASK}/attempt-1/record.json"
    m = manifest("R", {"m": {TASK: [a]}}, {"m": {TASK: ["unresolved"]}}, ids=(TASK,))
    m["evaluations"]["m"]["instances"][TASK][0].update(instance_report=f"eval/{TASK}/report.json",
                                                         test_output=f"eval/{TASK}/test_output.txt")
    run = home / "runs" / "R"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps(m))
    _attempt_files(run, hostile)
    assert generate_leaderboard([]) == 0
    return run


def test_a_grid_cell_opens_the_attempts_page_with_its_evidence(home):
    run = _board(home)
    page = run / "pages" / "m" / TASK / "attempt-1.html"
    html = page.read_text()
    board = (run / "leaderboard.html").read_text()
    assert f'href="../R/pages/m/{TASK}/attempt-1.html"' in board, "the grid cell opens the attempt's page"
    assert '<a href="#R-grid" title="its attempts, task by task">m</a>' in board, "the headline's model leads to it"
    for part in ("Rounding is off by one", '<span class="add">+new &lt;script&gt;alert(1)&lt;/script&gt;</span>',
                 '<span class="del">-old</span>', "I will look at u.py", '<pre class="command">cat u.py</pre>',
                 "output of step 1 (2000 characters)", "FAIL_TO_PASS: 1 passed, 1 failed", '<li class="fail">test_edge</li>',
                 "PASS_TO_PASS: 2 passed, 0 failed", "FAILED test_edge", "<th>prompt_tokens</th><td>120</td>",
                 "<th>cost_usd</th><td>0.002</td>", "verdict <strong>unresolved</strong>",
                 "median 1.00, slowest 2.00, 3 calls"):
        assert part in html, part
    assert "<script>" not in html, "model output is escaped"
    for href in re.findall(r'href="([^"#]+)"', html):
        assert (page.parent / href).resolve().is_relative_to(run.resolve()) and (page.parent / href).resolve().exists(), href
    before = page.read_bytes()
    from sweboard.cli import generate_leaderboard
    assert generate_leaderboard([]) == 0 and page.read_bytes() == before, "written once"


def test_a_linked_trajectory_is_never_followed(home):
    run = _board(home, hostile=True)
    html = (run / "pages" / "m" / TASK / "attempt-1.html").read_text()
    assert "TOP SECRET" not in html and "No trajectory was kept" in html
