#!/usr/bin/env python3
"""run models: see --help. Logic lives in sweboard.cli.run_models (scheduling in sweboard.scheduler)."""
import pathlib, runpy  # noqa: E401  (re-exec under .venv when started by another Python)
runpy.run_path(str(pathlib.Path(__file__).resolve().parent / "lib" / "use_venv.py"))
from sweboard.cli import run_models

raise SystemExit(run_models())
