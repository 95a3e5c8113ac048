#!/usr/bin/env bash
# i2: Chutes + OpenRouter models over config/instances_i1.yaml (plan only unless --execute). See --help.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/run_iteration.sh" --iteration i2 "$@"
