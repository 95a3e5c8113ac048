#!/usr/bin/env python3
"""generate leaderboard: see --help. Logic lives in sweboard.cli.generate_leaderboard."""
from sweboard.cli import generate_leaderboard

raise SystemExit(generate_leaderboard())
