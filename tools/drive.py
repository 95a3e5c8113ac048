#!/usr/bin/env python3
"""The iteration drivers' entry (bootstrap_i0.sh, run_i1.sh ... run_i4.sh exec it): see --help. Logic lives in
sweboard.drive (the request and its rules in sweboard.request)."""
import pathlib, runpy  # noqa: E401  (re-exec under .venv when started by another Python)
runpy.run_path(str(pathlib.Path(__file__).resolve().parent / "lib" / "use_venv.py"))
from sweboard.cli import drive

raise SystemExit(drive())
