#!/usr/bin/env python3
"""update dataset lock: see --help. Logic lives in sweboard.cli.update_dataset_lock."""
from sweboard.cli import update_dataset_lock

raise SystemExit(update_dataset_lock())
