# shellcheck shell=bash
# Sourced by the drivers: grade every attempt of a run, finish it if complete, fold the leaderboard.
#   grade_and_fold RUN_ID [MODEL...]   (the models the run must have a batch for)
# A run with a failed or missing batch, a failed evaluation or open attempts is left open (not
# finished); the leaderboard is folded either way and its status column says why.
grade_and_fold() {
  local run_id="$1" py="${ROOT}/.venv/bin/python"
  shift
  local expect=() model
  for model in "$@"; do expect+=(--expect-model "$model"); done
  echo "== official evaluation"
  "$py" "${ROOT}/tools/run_evaluation.py" --run-id "$run_id"
  if ! "$py" "${ROOT}/tools/finish_run.py" --run-id "$run_id" ${expect[@]+"${expect[@]}"}; then
    echo "run ${run_id}: left open (see the line above); fix the cause and rerun with --resume" >&2
  fi
  echo "== leaderboard"
  "$py" "${ROOT}/tools/collect_manifests.py"
  "$py" "${ROOT}/tools/generate_leaderboard.py"
  echo "run ${run_id}: runs/${run_id}/manifest.json, predictions/${run_id}/, runs/leaderboard.csv, runs/leaderboard.html"
}
