#!/usr/bin/env bash
# i1/i2 driver: every model of the iteration over the pinned slice, K attempts, evaluation, leaderboard.
# Without --execute it only plans (models x tasks x attempts, call and cost bounds) and spends nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
HOME_DIR="${SWEBOARD_HOME:-$ROOT}"
PY="$ROOT/.venv/bin/python"

usage() {
  cat <<USAGE
Usage: tools/run_i1.sh | run_i2.sh | run_i3.sh | run_i4.sh [--execute] [--offline] [--run-id ID] [--resume] [--runner mini|sweagent]
                                        [--attempts K] [--all-attempts] [--model ID]... [--jobs N] [--preflight]
                                        [--no-probe] [--cluster ADDRESS] [--dry-run] [--help]

i1: the Chutes models; i2: Chutes + OpenRouter; both on config/instances_i1.yaml. i3 and i4:
Chutes + OpenRouter on config/instances_i3.yaml (19 tasks, easy and medium; the plan lists each
task's difficulty and, when the locked rows are cached, its gold-patch size). Always with the
no-patch baseline. The models run at once (tools/run_models.py: one tools/run_model_batch.py per
model, K attempts per task, each graded before the next, stopping at the first resolved unless
--all-attempts), sharing --jobs agent attempts, each provider's max_concurrency and the CPU
guardrail; then the official evaluator, then runs/leaderboard.csv. A model that fails or is
unavailable is reported; the others go on. Resuming a finished run does nothing, at once.

  --execute       actually run (default: plan only, nothing spent)
  --offline       bundled offline slice + scripted provider on 127.0.0.1 (TEST EQUIPMENT): models
                  that solve, submit nothing, submit a wrong fix, are rate limited, answer 5xx, are unknown
  --run-id ID     default: <iteration>-<offline|lite>-<UTC timestamp>
  --resume        continue an existing run; finished attempts are not repeated
  --attempts K    attempts per task (default 2)
  --all-attempts  run all K attempts (unbiased pass@k) instead of stopping at the first resolved
  --model ID      only this model (repeatable)
  --jobs N        agent attempts at once across all models (default 8, config/sweagent.yaml);
                  1 runs the models one after another, one attempt at a time
  --runner R      mini (default, config/sweagent.yaml) or sweagent (SWE-agent 1.x, tools/install_sweagent.sh)
  --preflight     run only the preflight (keys, a one-token probe per model, images, the evaluator canary,
                  the scripted solver through the runner), then stop; every --execute runs it first anyway
  --no-probe      no one-token request per model in the preflight
  --cluster ADDR  run the attempts and gradings on a Ray cluster that requires a token (HOST:PORT of its
                  head; tools/ray_local_cluster.sh starts one on this machine); keys, gateway and
                  records stay on this machine (README: More than one machine)
  --dry-run       same as leaving out --execute
USAGE
}

ITERATION=i1
EXECUTE=0; OFFLINE=0; RESUME=0; ALL=0; ATTEMPTS=2; RUN_ID=""; RUNNER=""; JOBS=""; PREFLIGHT_ONLY=0
PROBE_FLAGS=()
MODEL_ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --iteration) ITERATION="$2"; shift ;;
    --execute) EXECUTE=1 ;;
    --dry-run) EXECUTE=0 ;;
    --offline) OFFLINE=1 ;;
    --resume) RESUME=1 ;;
    --all-attempts) ALL=1 ;;
    --preflight) PREFLIGHT_ONLY=1; EXECUTE=1 ;;
    --no-probe) PROBE_FLAGS=(--no-probe) ;;
    --attempts) [[ $# -ge 2 ]] || { echo "run_${ITERATION}.sh: --attempts needs a value" >&2; exit 2; }; ATTEMPTS="$2"; shift ;;
    --run-id) [[ $# -ge 2 ]] || { echo "run_${ITERATION}.sh: --run-id needs a value" >&2; exit 2; }; RUN_ID="$2"; shift ;;
    --model) [[ $# -ge 2 ]] || { echo "run_${ITERATION}.sh: --model needs a value" >&2; exit 2; }; MODEL_ARGS+=(--model "$2"); shift ;;
    --jobs) [[ $# -ge 2 ]] || { echo "run_${ITERATION}.sh: --jobs needs a value" >&2; exit 2; }; JOBS="$2"; shift ;;
    --cluster) [[ $# -ge 2 ]] || { echo "run_${ITERATION}.sh: --cluster needs a value" >&2; exit 2; }
               export SWEBOARD_CLUSTER="$2"; shift ;;  # every tool below reads it
    --runner) [[ $# -ge 2 ]] || { echo "run_${ITERATION}.sh: --runner needs a value" >&2; exit 2; }; RUNNER="$2"; shift ;;
    --help|-h) usage; exit 0 ;;
    *) echo "run_${ITERATION}.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ "$ATTEMPTS" =~ ^[1-3]$ ]] || { echo "run_${ITERATION}.sh: --attempts '$ATTEMPTS': expected 1, 2 or 3" >&2; exit 2; }
if [[ -n "$JOBS" && ! "$JOBS" =~ ^[1-9][0-9]*$ ]]; then
  echo "run_${ITERATION}.sh: --jobs '$JOBS': expected a whole number >= 1" >&2; exit 2
fi
if [[ -n "$RUNNER" && "$RUNNER" != mini && "$RUNNER" != sweagent ]]; then
  echo "run_${ITERATION}.sh: --runner '$RUNNER': expected mini or sweagent" >&2; exit 2
fi
if [[ -n "$RUN_ID" && ! "$RUN_ID" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]]; then
  echo "run_${ITERATION}.sh: --run-id '$RUN_ID': expected letters, digits, '.', '_' or '-'" >&2; exit 2
fi
case "$ITERATION" in
  i1|i2) SLICE_FILE="${HOME_DIR}/config/instances_i1.yaml" ;;
  i3|i4) SLICE_FILE="${HOME_DIR}/config/instances_i3.yaml" ;;
  *) echo "run_iteration.sh: --iteration '$ITERATION': expected i1, i2, i3 or i4" >&2; exit 2 ;;
esac
SECTION=swe-bench-lite; [[ "$OFFLINE" == 1 ]] && SECTION=offline
[[ -n "$RUN_ID" ]] || RUN_ID="${ITERATION}-$([[ "$OFFLINE" == 1 ]] && echo offline || echo lite)-$(date -u +%Y%m%dT%H%M%SZ)"
PLAN_ARGS=(--iteration "$ITERATION" --instances "$SLICE_FILE" --attempts "$ATTEMPTS" ${MODEL_ARGS[@]+"${MODEL_ARGS[@]}"})
[[ "$OFFLINE" == 1 ]] && PLAN_ARGS+=(--offline)
[[ "$ALL" == 1 ]] && PLAN_ARGS+=(--all-attempts)
BATCH_ARGS=(--run-id "$RUN_ID" --instances "$SLICE_FILE" --section "$SECTION" --attempts "$ATTEMPTS")
# i3/i4 start at 90 s per attempt (the plan); per-task raises only with evidence (tools/suggest_timeouts.py)
if [[ "$ITERATION" == i3 || "$ITERATION" == i4 ]]; then
  BATCH_ARGS+=(--set attempt_timeout_seconds=90); PLAN_ARGS+=(--set attempt_timeout_seconds=90)
fi
[[ "$ALL" == 1 ]] && BATCH_ARGS+=(--all-attempts)
[[ "$RESUME" == 1 ]] && BATCH_ARGS+=(--resume)
[[ -n "$RUNNER" ]] && BATCH_ARGS+=(--runner "$RUNNER")
[[ -n "$JOBS" ]] && BATCH_ARGS+=(--jobs "$JOBS")

tools/setup_venv.sh
if [[ "$EXECUTE" == 0 ]]; then
  "$PY" tools/plan_run.py "${PLAN_ARGS[@]}"
  echo "plan only: nothing was run or spent. Add --execute to run (run id would be ${RUN_ID})."
  exit 0
fi

if [[ "$RESUME" == 1 ]] && "$PY" tools/run_models.py --run-id "$RUN_ID" --finished; then
  echo "run ${RUN_ID} is finished and immutable: nothing to run, call or grade (runs/${RUN_ID}/manifest.json)"
  exit 0
fi
if [[ "$RESUME" == 0 && -e "${HOME_DIR}/runs/${RUN_ID}/manifest.json" ]]; then
  echo "run_${ITERATION}.sh: runs/${RUN_ID} already exists and is immutable; pass --resume or choose a new --run-id" >&2
  exit 2
fi
# one driver per run, and --resume only of a run that exists (a mistyped id never starts a new run)
CLAIM_ARGS=(--run-id "$RUN_ID" --pid "$$")
[[ "$RESUME" == 1 ]] && CLAIM_ARGS+=(--resume)
"$PY" tools/claim_run.py "${CLAIM_ARGS[@]}" || exit 2
if [[ "$OFFLINE" == 1 ]]; then tools/ensure_debootstrap.sh; fi
tools/ensure_docker.sh
if [[ "$OFFLINE" == 0 && ! -f "${HOME_DIR}/config/dataset.lock" ]]; then
  "$PY" tools/update_dataset_lock.py
fi

source "$ROOT/tools/lib/scripted_provider.sh"
if [[ "$OFFLINE" == 1 ]]; then
  echo "== scripted provider (TEST EQUIPMENT) on 127.0.0.1"
  start_scripted_provider "$HOME_DIR" "$RUN_ID" --rate-limit-failures 3 --retry-after 1
fi

mapfile -t MODELS < <("$PY" tools/plan_run.py "${PLAN_ARGS[@]}" --list-models)
MODEL_FLAGS=()
for model in "${MODELS[@]}"; do MODEL_FLAGS+=(--model "$model"); done
echo "== preflight: keys, probe, images, evaluator canary, scripted solver through the runner"
PREFLIGHT_ARGS=(--run-id "$RUN_ID" --instances "$SLICE_FILE" --section "$SECTION" "${MODEL_FLAGS[@]}")
[[ "$RESUME" == 1 ]] && PREFLIGHT_ARGS+=(--resume)
[[ -n "$RUNNER" ]] && PREFLIGHT_ARGS+=(--runner "$RUNNER")
if [[ "$ITERATION" == i3 || "$ITERATION" == i4 ]]; then PREFLIGHT_ARGS+=(--set attempt_timeout_seconds=90); fi
# the offline set's models include ones that fail on purpose (unknown, 5xx): their in-run handling is
# what it tests, so the offline preflight does not probe them
if [[ "$OFFLINE" == 1 ]]; then PROBE_FLAGS=(--no-probe); fi
if ! "$PY" tools/preflight.py "${PREFLIGHT_ARGS[@]}" ${PROBE_FLAGS[@]+"${PROBE_FLAGS[@]}"}; then
  echo "run_${ITERATION}.sh: the preflight failed (the line above says what to do); no model was run" >&2
  exit 1
fi
if [[ "$PREFLIGHT_ONLY" == 1 ]]; then echo "preflight only (--preflight): no model was run"; exit 0; fi
echo "== ${#MODELS[@]} models: ${MODELS[*]}"
BATCHES_RC=0
"$PY" tools/run_models.py "${BATCH_ARGS[@]}" "${MODEL_FLAGS[@]}" || BATCHES_RC=$?

source "$ROOT/tools/lib/fold.sh"
grade_and_fold "$RUN_ID" "${MODELS[@]}"
if [[ "$BATCHES_RC" == 3 ]]; then
  echo "run_${ITERATION}.sh: stopped (a budget, quota or damaged ledger; named above); rerun with --resume" >&2
  exit 3
elif [[ "$BATCHES_RC" != 0 ]]; then
  echo "run_${ITERATION}.sh: some models failed to run (named above); their rows say why" >&2
  exit 1
fi
