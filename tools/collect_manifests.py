#!/usr/bin/env python3
"""collect manifests: see --help. Logic lives in sweboard.cli.collect_manifests."""
from sweboard.cli import collect_manifests

raise SystemExit(collect_manifests())
