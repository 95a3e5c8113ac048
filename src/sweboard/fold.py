"""Folding every run into the boards: `runs/manifests.csv`, `runs/leaderboard.csv` (+ columns JSON,
breakdowns, each run's `pairwise.csv`), each finished run's own board, and the page.

One function for the drivers and for `generate_leaderboard.py`, so the fold a driver ends with is
the one a person runs by hand.
"""

from __future__ import annotations

from pathlib import Path

from sweboard.errors import SweboardError
from sweboard.leaderboard import (MANIFEST_COLUMNS, breakdown_rows, columns, leaderboard_rows, load_manifests,
                                  manifest_rows, write_breakdowns, write_csv, write_html, write_run_board)
from sweboard.paths import runs_dir
from sweboard.report.attempt_page import write_pages
from sweboard.validity.report import write_validity


def collect(output: Path | None = None) -> tuple[Path, int]:
    rows = manifest_rows(load_manifests())
    return write_csv(output or runs_dir() / "manifests.csv", MANIFEST_COLUMNS, rows), len(rows)


def fold(version: str | None = None, only: list[str] | None = None, all_runs: bool = False,
         output: Path | None = None) -> tuple[list[dict], list[str]]:
    """Write every board; returns (the leaderboard's rows, the files written, as names)."""
    from sweboard.report.columns import write_columns_json

    cols = columns(version)
    manifests = _selected(load_manifests(), only)
    rows = leaderboard_rows(manifests)
    out = write_csv(output or runs_dir() / "leaderboard.csv", cols, rows)
    write_columns_json(out, cols, version)
    by_repo = breakdown_rows(manifests, "repo")  # once: for its file and for the page's heatmap
    extra = write_breakdowns(out.parent, manifests, by_repo)
    for m in manifests:
        write_validity(m)  # before its board: the run's page shows the same findings
        if m.get("status") == "finished" and (runs_dir() / m["run_id"]).is_dir():
            write_pages(m, runs_dir() / m["run_id"])  # each attempt's page, before the grids that link them
        write_run_board(m["run_id"], cols, rows, m, by_repo, version)
    shown = manifests if all_runs else [m for m in manifests if m.get("status") == "finished"]
    ids = {m["run_id"] for m in shown}
    page = write_html(out.with_suffix(".html"), cols, [r for r in rows if r["run_id"] in ids], shown, by_repo,
                      hidden=len(manifests) - len(shown))
    return rows, [str(out), f"{out.stem}.columns.json", page.name, *(p.name for p in extra)]


def _selected(manifests: list[dict], only: list[str] | None) -> list[dict]:
    if not only:
        return manifests
    unknown = sorted(set(only) - {m["run_id"] for m in manifests})
    if unknown:
        raise SweboardError(f"--run-id: no manifest for {unknown} under runs/")
    return [m for m in manifests if m["run_id"] in only]


def newest_run(manifests: list[dict]) -> str | None:
    return max(manifests, key=lambda m: (m.get("created_at") or "", m["run_id"]))["run_id"] if manifests else None


def row_lines(rows: list[dict], run_id: str) -> list[str]:
    """One line per row of `run_id`: what a driver prints at its end (an empty cell prints `—`)."""
    def cell(value):
        return "—" if value == "" or value is None else value

    return [f"  {r['model']:<40} {r['kind']:<15} pass@1 {cell(r['pass@1'])!s:<6} pass@K {cell(r['pass@K'])!s:<6} "
            f"resolved {cell(r['resolved'])}/{r['instances']}  {r['status']}  [{r['run_id']}]"
            for r in rows if r["run_id"] == run_id]
