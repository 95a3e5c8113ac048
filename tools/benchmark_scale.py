#!/usr/bin/env python3
"""benchmark scale: see --help. Logic lives in sweboard.benchmarks.benchmark_scale."""
import pathlib, runpy  # noqa: E401  (re-exec under .venv when started by another Python)
runpy.run_path(str(pathlib.Path(__file__).resolve().parent / "lib" / "use_venv.py"))
from sweboard.benchmarks.benchmark_scale import main

raise SystemExit(main())
