#!/usr/bin/env python3
"""update dataset lock: see --help. Logic lives in sweboard.cli.update_dataset_lock."""
import pathlib, runpy  # noqa: E401  (re-exec under .venv when started by another Python)
runpy.run_path(str(pathlib.Path(__file__).resolve().parent / "lib" / "use_venv.py"))
from sweboard.cli import update_dataset_lock

raise SystemExit(update_dataset_lock())
