#!/usr/bin/env python3
"""reconcile usage: see --help. Logic lives in sweboard.cli.reconcile_usage."""
import pathlib, runpy  # noqa: E401  (re-exec under .venv when started by another Python)
runpy.run_path(str(pathlib.Path(__file__).resolve().parent / "lib" / "use_venv.py"))
from sweboard.cli import reconcile_usage

raise SystemExit(reconcile_usage())
