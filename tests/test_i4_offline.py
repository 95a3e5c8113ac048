"""i4 on the offline i3 slice (10 tasks, 5 repos) through tools/run_i4.sh: the v3 board, its breakdowns,
the pairwise file and the page, for real (the solver and the baseline, to keep CI's time)."""

import csv
import json
import subprocess
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
    assert list(rows(runs / "leaderboard.csv")[0]) == list(columns("v4"))
    solver = board["scripted/solver"]
    assert (solver["status"], solver["resolved"], solver["instances"]) == ("ok", "10", "10")
    assert float(solver["pass@1_ci_low"]) < 1.0 == float(solver["pass@1_ci_high"])
    assert solver["ci_method"].startswith("exact Clopper-Pearson on tasks; repo design effect"), "one method, by design"
    assert solver["ci_method"] == board["instant_empty_submit"]["ci_method"]
    assert solver["latency_n"] != "" and solver["verdicts_reused"] != ""
    assert float(solver["cost_per_task"]) > 0 and float(solver["cost_per_resolved"]) > 0
    assert solver["token_source"] == "provider 100%" and float(solver["latency_p50_s"]) >= 0
    assert solver["rank_group"] == "1" and board["instant_empty_submit"]["rank_group"] == "2"
    assert_board_identities(runs / "leaderboard.csv")
    by_repo = [r for r in rows(runs / "leaderboard_by_repo.csv") if r["run_id"] == "i4-off" and r["model"] == "scripted/solver"]
    assert len({r["repo"] for r in by_repo}) >= 4 and sum(int(r["tasks"]) for r in by_repo) == 10
    by_difficulty = {r["difficulty"] for r in rows(runs / "leaderboard_by_difficulty.csv") if r["run_id"] == "i4-off"}
    assert by_difficulty == {"easy", "medium"}
    [pair] = rows(runs / "i4-off" / "pairwise.csv")
    assert pair["distinguishable"] == "True" and int(pair["only_b"]) + int(pair["only_a"]) == 10
    page = (runs / "leaderboard.html").read_text()
    assert 'id="i4-off"' in page and '<svg class="chart pareto"' in page and 'class="chart heatmap"' in page
    # the preflight ran first, on the same slice: its canary and solver runs stay off the board
    manifest = json.loads((runs / "i4-off" / "manifest.json").read_text())
    pf = manifest["preflight"]
    assert pf["passed"] and [s["name"] for s in pf["steps"]] == ["credentials", "probe", "images", "canary", "solver"]
    assert pf["steps"][1]["detail"] == "skipped (--no-probe)", "the offline set's failing models are not probed"
    assert json.loads((runs / "i4-off.canary" / "manifest.json").read_text())["kind"] == "canary"
    assert json.loads((runs / "i4-off.solver" / "manifest.json").read_text())["kind"] == "preflight"
    on_board = {r["run_id"] for r in rows(runs / "leaderboard.csv")}
    assert "i4-off.canary" not in on_board and "i4-off.solver" not in on_board
