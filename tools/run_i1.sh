#!/usr/bin/env bash
# i1: the Chutes models over config/instances_i1.yaml (plan only unless --execute). See --help.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/run_iteration.sh" --iteration i1 "$@"
