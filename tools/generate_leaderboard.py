#!/usr/bin/env python3
"""generate leaderboard: see --help. Logic lives in sweboard.cli.generate_leaderboard."""
import pathlib, runpy  # noqa: E401  (re-exec under .venv when started by another Python)
runpy.run_path(str(pathlib.Path(__file__).resolve().parent / "lib" / "use_venv.py"))
from sweboard.cli import generate_leaderboard

raise SystemExit(generate_leaderboard())
