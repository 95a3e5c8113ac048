#!/usr/bin/env python3
"""check catalog: see --help. Logic lives in sweboard.cli.check_catalog."""
import pathlib, runpy  # noqa: E401  (re-exec under .venv when started by another Python)
runpy.run_path(str(pathlib.Path(__file__).resolve().parent / "lib" / "use_venv.py"))
from sweboard.cli import check_catalog

raise SystemExit(check_catalog())
