#!/usr/bin/env python3
"""plan run: see --help. Logic lives in sweboard.cli.plan_run."""
from sweboard.cli import plan_run

raise SystemExit(plan_run())
