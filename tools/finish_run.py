#!/usr/bin/env python3
"""finish run: see --help. Logic lives in sweboard.cli.finish_run."""
from sweboard.cli import finish_run

raise SystemExit(finish_run())
