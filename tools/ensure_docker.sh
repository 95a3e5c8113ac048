#!/usr/bin/env bash
# Make a Docker engine answer, or say exactly what is missing.
#
# If `docker info` already answers, that engine is used untouched. Otherwise, as root with apt,
# install Debian's docker.io and start our own dockerd with no default bridge and no iptables,
# so no private-range network can exist. Its PID is recorded per checkout, so `--stop` stops
# exactly the daemon this checkout started (never another checkout's). With DOCKER_HOST set to an
# engine that does not answer, nothing is started: that engine is the one meant.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="${SWEBOARD_STATE_DIR:-${HOME}/.cache/sweboard}"
CHECKOUT="$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
PID_FILE="${STATE_DIR}/dockerd-${CHECKOUT}.pid"
LOG_FILE="${STATE_DIR}/dockerd-${CHECKOUT}.log"
WAIT_SECONDS="${SWEBOARD_DOCKERD_WAIT:-60}"

usage() {
  cat <<USAGE
Usage: tools/ensure_docker.sh [--stop] [--dry-run] [--help]

Ensures a Docker engine answers 'docker info'.
  (no flag)   use a running engine, or install docker.io (root + apt) and start dockerd
              with --bridge=none --iptables=false --ip-forward=false --ip-masq=false
  --stop      stop the dockerd this checkout's script started (PID in ${PID_FILE}); nothing else
  --dry-run   print what would be done, change nothing
  --help      this text
USAGE
}

MODE=ensure
DRY_RUN=0
for arg in "$@"; do
  case "$arg" in
    --stop) MODE=stop ;;
    --dry-run) DRY_RUN=1 ;;
    --help|-h) usage; exit 0 ;;
    *) echo "ensure_docker.sh: unknown argument '$arg' (expected --stop, --dry-run or --help)" >&2; exit 2 ;;
  esac
done

engine_answers() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

if [[ "$MODE" == stop ]]; then
  if [[ ! -f "$PID_FILE" ]]; then
    echo "ensure_docker.sh: no dockerd started from this checkout (no ${PID_FILE}); nothing to stop"
    exit 0
  fi
  pid="$(cat "$PID_FILE")"
  if [[ "$DRY_RUN" == 1 ]]; then echo "would stop dockerd PID ${pid}"; exit 0; fi
  if kill -0 "$pid" 2>/dev/null && grep -q dockerd "/proc/${pid}/cmdline" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    echo "ensure_docker.sh: stopped dockerd PID ${pid}"
  else
    echo "ensure_docker.sh: recorded dockerd PID ${pid} is not running"
  fi
  rm -f "$PID_FILE"
  exit 0
fi

if engine_answers; then
  echo "ensure_docker.sh: Docker engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo unknown))"
  exit 0
fi
if [[ -n "${DOCKER_HOST:-}" && "${DOCKER_HOST}" != "unix:///var/run/docker.sock" ]]; then
  echo "ensure_docker.sh: DOCKER_HOST=${DOCKER_HOST} does not answer; start that engine, or unset DOCKER_HOST to use (or start) the local one" >&2
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_docker.sh: no Docker engine answers and dockerd is not installed; install Docker (https://docs.docker.com/engine/install/) or run as root on Debian/Ubuntu so this script can 'apt-get install docker.io'" >&2
    exit 1
  fi
  if [[ "$DRY_RUN" == 1 ]]; then echo "would run: apt-get install -y docker.io"; else
    echo "ensure_docker.sh: installing docker.io with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq docker.io >/dev/null
  fi
fi

if [[ "$(id -u)" != 0 ]]; then
  echo "ensure_docker.sh: dockerd is installed but no engine answers and starting one needs root; start Docker (e.g. 'sudo systemctl start docker') or add your user to the docker group" >&2
  exit 1
fi

DOCKERD_ARGS=(--bridge=none --iptables=false --ip-forward=false --ip-masq=false)
if [[ "$DRY_RUN" == 1 ]]; then
  echo "would start: dockerd ${DOCKERD_ARGS[*]} (PID recorded in ${PID_FILE})"
  exit 0
fi
mkdir -p "$STATE_DIR"
echo "ensure_docker.sh: starting dockerd ${DOCKERD_ARGS[*]}"
setsid dockerd "${DOCKERD_ARGS[@]}" >"$LOG_FILE" 2>&1 < /dev/null &
echo "$!" >"$PID_FILE"
for _ in $(seq 1 "$WAIT_SECONDS"); do
  if engine_answers; then
    echo "ensure_docker.sh: dockerd PID $(cat "$PID_FILE") answers; log in ${LOG_FILE}"
    exit 0
  fi
  if ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then break; fi
  sleep 1
done
echo "ensure_docker.sh: dockerd did not answer within ${WAIT_SECONDS}s; see ${LOG_FILE}: $(tail -n 1 "$LOG_FILE" 2>/dev/null)" >&2
exit 1
