#!/usr/bin/env python3
"""suggest timeouts: see --help. Logic lives in sweboard.cli.suggest_timeouts."""
import pathlib, runpy  # noqa: E401  (re-exec under .venv when started by another Python)
runpy.run_path(str(pathlib.Path(__file__).resolve().parent / "lib" / "use_venv.py"))
from sweboard.cli import suggest_timeouts

raise SystemExit(suggest_timeouts())
