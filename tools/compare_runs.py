#!/usr/bin/env python3
"""compare runs: see --help. Logic lives in sweboard.cli.compare_runs."""
import pathlib, runpy  # noqa: E401  (re-exec under .venv when started by another Python)
runpy.run_path(str(pathlib.Path(__file__).resolve().parent / "lib" / "use_venv.py"))
from sweboard.cli import compare_runs

raise SystemExit(compare_runs())
