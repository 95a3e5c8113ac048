#!/usr/bin/env python3
"""run evaluation: see --help. Logic lives in sweboard.cli.run_evaluation."""
from sweboard.cli import run_evaluation

raise SystemExit(run_evaluation())
