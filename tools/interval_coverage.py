#!/usr/bin/env python3
"""interval coverage: see --help. Logic lives in sweboard.cli.interval_coverage."""
import pathlib, runpy  # noqa: E401  (re-exec under .venv when started by another Python)
runpy.run_path(str(pathlib.Path(__file__).resolve().parent / "lib" / "use_venv.py"))
from sweboard.cli import interval_coverage

raise SystemExit(interval_coverage())
