#!/usr/bin/env bash
# Make sure a headless browser is there for the page test (Debian's chromium; best effort).
set -euo pipefail
case "${1:-}" in
  --help|-h) echo "Usage: tools/ensure_chromium.sh [--dry-run] [--help]  (installs Debian's chromium with apt-get as root, for the page test)"; exit 0 ;;
  --dry-run) command -v chromium >/dev/null 2>&1 && echo "chromium present" || echo "would run: apt-get install -y chromium"; exit 0 ;;
  "") ;;
  *) echo "ensure_chromium.sh: unknown argument '$1' (expected --dry-run or --help)" >&2; exit 2 ;;
esac
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then exit 0; fi
if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_chromium.sh: no chromium and no way to install it here; the browser test of the page will skip" >&2
  exit 0
fi
echo "ensure_chromium.sh: installing chromium with apt-get (for the page test)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq chromium >/dev/null || echo "ensure_chromium.sh: chromium did not install; the browser test will skip" >&2
