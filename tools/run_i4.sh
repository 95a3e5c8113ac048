#!/usr/bin/env bash
# i4: Chutes + OpenRouter over config/instances_i3.yaml (plan only unless --execute). See --help.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/run_iteration.sh" --iteration i4 "$@"
