#!/usr/bin/env python3
"""collect manifests: see --help. Logic lives in sweboard.cli.collect_manifests."""
import pathlib, runpy  # noqa: E401  (re-exec under .venv when started by another Python)
runpy.run_path(str(pathlib.Path(__file__).resolve().parent / "lib" / "use_venv.py"))
from sweboard.cli import collect_manifests

raise SystemExit(collect_manifests())
