#!/usr/bin/env python3
"""build offline images: see --help. Logic lives in sweboard.cli.build_offline_images."""
from sweboard.cli import build_offline_images

raise SystemExit(build_offline_images())
