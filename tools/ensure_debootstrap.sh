#!/usr/bin/env bash
# Make sure debootstrap (needed once per machine to build the offline base image) is installed.
set -euo pipefail
case "${1:-}" in
  --help|-h) echo "Usage: tools/ensure_debootstrap.sh [--dry-run] [--help]  (installs Debian's debootstrap with apt-get as root)"; exit 0 ;;
  --dry-run) command -v debootstrap >/dev/null 2>&1 && echo "debootstrap present" || echo "would run: apt-get install -y debootstrap"; exit 0 ;;
  "") ;;
  *) echo "ensure_debootstrap.sh: unknown argument '$1' (expected --dry-run or --help)" >&2; exit 2 ;;
esac
if command -v debootstrap >/dev/null 2>&1; then exit 0; fi
if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_debootstrap.sh: debootstrap is missing; install it (Debian/Ubuntu: sudo apt-get install debootstrap)" >&2
  exit 1
fi
echo "ensure_debootstrap.sh: installing debootstrap with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq debootstrap >/dev/null
