# shellcheck shell=bash
# Sourced by the drivers: grade every attempt of a run, finish it if complete, fold the leaderboard.
#   grade_and_fold RUN_ID
grade_and_fold() {
  local run_id="$1" py="${ROOT}/.venv/bin/python"
  echo "== official evaluation"
  "$py" "${ROOT}/tools/run_evaluation.py" --run-id "$run_id"
  "$py" "${ROOT}/tools/finish_run.py" --run-id "$run_id"
  echo "== leaderboard"
  "$py" "${ROOT}/tools/collect_manifests.py"
  "$py" "${ROOT}/tools/generate_leaderboard.py"
  echo "run ${run_id}: runs/${run_id}/manifest.json, predictions/${run_id}/, runs/leaderboard.csv, runs/leaderboard.html"
}
