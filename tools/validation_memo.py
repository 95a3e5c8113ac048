#!/usr/bin/env python3
"""validation memo: see --help. Logic lives in sweboard.cli.validation_memo."""
import pathlib, runpy  # noqa: E401  (re-exec under .venv when started by another Python)
runpy.run_path(str(pathlib.Path(__file__).resolve().parent / "lib" / "use_venv.py"))
from sweboard.cli import validation_memo

raise SystemExit(validation_memo())
