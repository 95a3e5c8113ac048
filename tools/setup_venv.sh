#!/usr/bin/env bash
# Create .venv (if missing or broken) and install sweboard with its pinned dependencies.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "${1:-}" in
  --help|-h) echo "Usage: tools/setup_venv.sh [--dry-run] [--help]  (python3 -m venv .venv; pip install -e '.[test]')"; exit 0 ;;
  --dry-run) [[ -x "$ROOT/.venv/bin/python" ]] && echo ".venv present" || echo "would create .venv and pip install -e '.[test]'"; exit 0 ;;
  "") ;;
  *) echo "setup_venv.sh: unknown argument '$1' (expected --dry-run or --help)" >&2; exit 2 ;;
esac
PY="$ROOT/.venv/bin/python"
# find_spec, not import: importing minisweagent has side effects (a banner, a config dir)
if [[ -x "$PY" ]] && "$PY" -c "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in ('sweboard', 'swebench', 'minisweagent', 'pytest', 'datasets', 'hypothesis')))" 2>/dev/null; then exit 0; fi
command -v python3 >/dev/null 2>&1 || { echo "setup_venv.sh: python3 (>= 3.11) is required" >&2; exit 1; }
echo "setup_venv.sh: creating .venv and installing sweboard (about a minute)"
python3 -m venv "$ROOT/.venv"
"$PY" -m pip install --quiet --upgrade pip
"$PY" -m pip install --quiet -e "${ROOT}[test]"
