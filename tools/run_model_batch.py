#!/usr/bin/env python3
"""run model batch: see --help. Logic lives in sweboard.cli.run_model_batch."""
from sweboard.cli import run_model_batch

raise SystemExit(run_model_batch())
