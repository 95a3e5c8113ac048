#!/usr/bin/env python3
"""build offline images: see --help. Logic lives in sweboard.cli.build_offline_images."""
import pathlib, runpy  # noqa: E401  (re-exec under .venv when started by another Python)
runpy.run_path(str(pathlib.Path(__file__).resolve().parent / "lib" / "use_venv.py"))
from sweboard.cli import build_offline_images

raise SystemExit(build_offline_images())
