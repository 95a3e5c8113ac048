#!/usr/bin/env bash
# i0 end to end (venv, Docker, dataset lock, preflight, agent batches, official evaluation, leaderboard). See --help.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/run_iteration.sh" --iteration i0 "$@"
