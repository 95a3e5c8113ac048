#!/usr/bin/env python3
"""export submission: see --help. Logic lives in sweboard.cli.export_submission."""
import pathlib, runpy  # noqa: E401  (re-exec under .venv when started by another Python)
runpy.run_path(str(pathlib.Path(__file__).resolve().parent / "lib" / "use_venv.py"))
from sweboard.cli import export_submission

raise SystemExit(export_submission())
