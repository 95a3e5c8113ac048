#!/usr/bin/env python3
"""describe slice: see --help. Logic lives in sweboard.cli.describe_slice."""
import pathlib, runpy  # noqa: E401  (re-exec under .venv when started by another Python)
runpy.run_path(str(pathlib.Path(__file__).resolve().parent / "lib" / "use_venv.py"))
from sweboard.cli import describe_slice

raise SystemExit(describe_slice())
