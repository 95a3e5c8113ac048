#!/usr/bin/env bash
# The test command: set up everything the tests need on a fresh machine, then run them.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

usage() {
  cat <<USAGE
Usage: tools/run_tests.sh [--dry-run] [--help] [PYTEST ARGS...]

Creates .venv, ensures debootstrap and a Docker engine (starting our own dockerd if none
answers, and stopping exactly that one afterwards), then runs pytest. Docker tests build
the offline images on first use (about 2 minutes once per machine).
USAGE
}
case "${1:-}" in
  --help|-h) usage; exit 0 ;;
  --dry-run)
    tools/setup_venv.sh --dry-run; tools/install_sweagent.sh --dry-run ${SWEBOARD_SWEAGENT_SOURCE:+--source "$SWEBOARD_SWEAGENT_SOURCE"}
    tools/ensure_debootstrap.sh --dry-run; tools/ensure_chromium.sh --dry-run; tools/ensure_docker.sh --dry-run
    echo "would run: .venv/bin/python -m pytest"; exit 0 ;;
esac

tools/setup_venv.sh
# SWE-agent (not on PyPI): from SWEBOARD_SWEAGENT_SOURCE (a folder or tarball; CI points it at the
# vendored source) or its git tag. Without it the SWE-agent tests skip (outside CI).
if ! tools/install_sweagent.sh ${SWEBOARD_SWEAGENT_SOURCE:+--source "$SWEBOARD_SWEAGENT_SOURCE"} \
     ${SWEBOARD_SWEAGENT_COMMIT:+--commit "$SWEBOARD_SWEAGENT_COMMIT"}; then
  echo "run_tests.sh: SWE-agent could not be installed; its tests will skip (and fail under CI)" >&2
fi
tools/ensure_debootstrap.sh
tools/ensure_chromium.sh
STARTED_DOCKER=0
if ! docker info >/dev/null 2>&1; then STARTED_DOCKER=1; fi
tools/ensure_docker.sh
stop_docker() { if [[ "$STARTED_DOCKER" == 1 ]]; then tools/ensure_docker.sh --stop; fi; }
trap stop_docker EXIT
.venv/bin/python -m pytest -p no:cacheprovider "$@"
