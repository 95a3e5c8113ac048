#!/usr/bin/env bash
# The iteration drivers' glue: make sure .venv exists, then hand every argument to tools/drive.py (Python:
# the same request, the same rules as every tool; see its --help). Usage: run_iteration.sh --iteration iN [ARGS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
wants_no_change=0
for arg in "$@"; do
  case "$arg" in --help|-h|--dry-run) wants_no_change=1 ;; esac
done
if [[ ! -x "$PY" && "$wants_no_change" == 1 ]]; then
  "$ROOT/tools/setup_venv.sh" --dry-run
  echo "(the driver's own --help and plan need .venv: run tools/setup_venv.sh)"
  exit 0
fi
[[ "$wants_no_change" == 1 ]] || "$ROOT/tools/setup_venv.sh"
exec "$PY" -I "$ROOT/tools/drive.py" "$@"
