#!/usr/bin/env bash
# Start or stop a Ray cluster on this machine (head + N workers on 127.0.0.1) for trying --cluster.
# Usage: tools/ray_local_cluster.sh up [N] [--slots J] [--eval-slots E] | down | status [--dry-run] [--help]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
[[ -x "$PY" ]] || PY="$(command -v python3)"
if [[ $# -eq 0 ]]; then set -- --help; fi
exec "$PY" -I -m sweboard.executors.local_cluster "$@"  # -I: never import from the caller's folder
