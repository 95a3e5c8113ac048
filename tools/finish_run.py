#!/usr/bin/env python3
"""finish run: see --help. Logic lives in sweboard.cli.finish_run."""
import pathlib, runpy  # noqa: E401  (re-exec under .venv when started by another Python)
runpy.run_path(str(pathlib.Path(__file__).resolve().parent / "lib" / "use_venv.py"))
from sweboard.cli import finish_run

raise SystemExit(finish_run())
