# shellcheck shell=bash
# Sourced by the drivers: start the scripted provider (TEST EQUIPMENT) on 127.0.0.1 for one run,
# export SWEBOARD_SCRIPTED_BASE_URL, and stop it (by PID) when the driver exits.
#   start_scripted_provider HOME_DIR RUN_ID [extra provider args...]
SCRIPTED_PROVIDER_PID=""
stop_scripted_provider() {
  if [[ -n "$SCRIPTED_PROVIDER_PID" ]]; then
    kill "$SCRIPTED_PROVIDER_PID" 2>/dev/null || true
    wait "$SCRIPTED_PROVIDER_PID" 2>/dev/null || true
  fi
}
start_scripted_provider() {
  local home_dir="$1" run_id="$2" port_file
  shift 2
  mkdir -p "${home_dir}/runs/.provider"
  port_file="${home_dir}/runs/.provider/${run_id}.port"
  rm -f "$port_file"
  "${ROOT}/.venv/bin/python" "${ROOT}/tools/scripted_provider.py" --port-file "$port_file" --max-seconds 3600 \
    --call-log "${home_dir}/runs/.provider/${run_id}.calls.jsonl" "$@" &
  SCRIPTED_PROVIDER_PID=$!
  trap stop_scripted_provider EXIT
  for _ in $(seq 1 50); do [[ -s "$port_file" ]] && break; sleep 0.2; done
  if [[ ! -s "$port_file" ]]; then echo "scripted provider did not start" >&2; return 1; fi
  SWEBOARD_SCRIPTED_BASE_URL="http://127.0.0.1:$(cat "$port_file")/v1"
  export SWEBOARD_SCRIPTED_BASE_URL
}
