#!/usr/bin/env python3
"""Time the offline test bench: image builds (cold, cached), per-task builds, evaluation overhead."""
import pathlib, runpy  # noqa: E401  (re-exec under .venv when started by another Python)
runpy.run_path(str(pathlib.Path(__file__).resolve().parent / "lib" / "use_venv.py"))
from sweboard.benchmarks.benchmark import main

raise SystemExit(main())
