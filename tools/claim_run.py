#!/usr/bin/env python3
"""claim run: see --help. Logic lives in sweboard.cli.claim_run."""
import pathlib, runpy  # noqa: E401  (re-exec under .venv when started by another Python)
runpy.run_path(str(pathlib.Path(__file__).resolve().parent / "lib" / "use_venv.py"))
from sweboard.cli import claim_run

raise SystemExit(claim_run())
