#!/usr/bin/env bash
# Create .venv (if missing) and install sweboard with its pinned dependencies; reinstall when
# pyproject.toml changed since the last install (a stamp in .venv records its sha256).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
STAMP="$ROOT/.venv/.sweboard-pyproject.sha256"
WANT="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
current() { [[ -x "$PY" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; }
case "${1:-}" in
  --help|-h) echo "Usage: tools/setup_venv.sh [--dry-run] [--help]  (python3 -m venv .venv; pip install -e '.[test]')"; exit 0 ;;
  --dry-run) if current; then echo ".venv present and up to date"; else echo "would create/update .venv and pip install -e '.[test]'"; fi; exit 0 ;;
  "") ;;
  *) echo "setup_venv.sh: unknown argument '$1' (expected --dry-run or --help)" >&2; exit 2 ;;
esac
current && exit 0
command -v python3 >/dev/null 2>&1 || { echo "setup_venv.sh: python3 (>= 3.11) is required" >&2; exit 1; }
if [[ ! -x "$PY" ]]; then
  echo "setup_venv.sh: creating .venv and installing sweboard (about a minute)"
  python3 -m venv "$ROOT/.venv"
  "$PY" -I -m pip install --quiet --upgrade pip
else
  echo "setup_venv.sh: pyproject.toml changed; updating .venv"
fi
"$PY" -I -m pip install --quiet -e "${ROOT}[test]"
echo "$WANT" > "$STAMP"
