#!/usr/bin/env python3
"""Scripted OpenAI-compatible provider on 127.0.0.1 (TEST EQUIPMENT); see --help."""
import pathlib, runpy  # noqa: E401  (re-exec under .venv when started by another Python)
runpy.run_path(str(pathlib.Path(__file__).resolve().parent / "lib" / "use_venv.py"))
from sweboard.testbench.provider import main

raise SystemExit(main())
