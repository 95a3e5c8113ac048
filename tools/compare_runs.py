#!/usr/bin/env python3
"""compare runs: see --help. Logic lives in sweboard.cli.compare_runs."""
from sweboard.cli import compare_runs

raise SystemExit(compare_runs())
