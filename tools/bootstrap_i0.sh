#!/usr/bin/env bash
# i0 end to end: venv, Docker, dataset lock, agent batch(es), official evaluation, leaderboard.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# Where config/, runs/ and predictions/ live (tests point this at a scratch copy).
HOME_DIR="${SWEBOARD_HOME:-$ROOT}"

usage() {
  cat <<USAGE
Usage: tools/bootstrap_i0.sh [--offline] [--model ID]... [--runner mini|sweagent] [--run-id ID] [--resume]
                            [--jobs N] [--preflight] [--no-probe] [--cluster ADDRESS] [--dry-run] [--help]

Runs the i0 slice (config/instances_i0.yaml) end to end and writes runs/leaderboard.csv:
sets up .venv if missing, ensures a Docker engine, locks the dataset if no lock exists,
runs the preflight (tools/preflight.py: keys, a one-token probe per model, images, the evaluator
canary, the scripted solver through the runner; nothing is spent unless it passes),
runs the models' agent batches at once (tools/run_models.py), evaluates with the official SWE-bench evaluator,
marks the run finished, and folds manifests into the leaderboard.

  --offline     bundled offline task set + scripted provider on 127.0.0.1 (TEST EQUIPMENT):
                runs scripted/solver and the no-patch baseline instant_empty_submit
  --model ID    a model from config/model_catalog.yaml (repeatable). Default: instant_empty_submit
                (the plan's step 7: verify the pipeline before spending API budget)
  --runner R    mini (mini-swe-agent, the default in config/sweagent.yaml) or sweagent (SWE-agent 1.x,
                installed by tools/install_sweagent.sh)
  --run-id ID   default: i0-<offline|lite>-<UTC timestamp>
  --resume      continue an existing run; finished attempts (and their model calls) are not repeated
  --jobs N      agent attempts at once across the models (default 8, config/sweagent.yaml); 1: one at a time
  --preflight   run only the preflight, then stop
  --no-probe    no one-token request per model in the preflight
  --cluster A   run attempts and gradings on a Ray cluster that requires a token (HOST:PORT of its head);
                keys, gateway and records stay here (README: More than one machine)
  --dry-run     print the steps and each tool's plan; change nothing
  --help        this text
USAGE
}

OFFLINE=0
RESUME=0
DRY_RUN=0
PREFLIGHT_ONLY=0
PROBE_FLAGS=()
RUN_ID=""
RUNNER=""
JOBS_FLAGS=()
MODELS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --offline) OFFLINE=1 ;;
    --resume) RESUME=1 ;;
    --dry-run) DRY_RUN=1 ;;
    --preflight) PREFLIGHT_ONLY=1 ;;
    --no-probe) PROBE_FLAGS=(--no-probe) ;;
    --run-id) [[ $# -ge 2 ]] || { echo "bootstrap_i0.sh: --run-id needs a value" >&2; exit 2; }; RUN_ID="$2"; shift ;;
    --model) [[ $# -ge 2 ]] || { echo "bootstrap_i0.sh: --model needs a value" >&2; exit 2; }; MODELS+=("$2"); shift ;;
    --runner) [[ $# -ge 2 ]] || { echo "bootstrap_i0.sh: --runner needs a value" >&2; exit 2; }; RUNNER="$2"; shift ;;
    --jobs) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || { echo "bootstrap_i0.sh: --jobs: expected a whole number >= 1" >&2; exit 2; }
            JOBS_FLAGS=(--jobs "$2"); shift ;;
    --cluster) [[ $# -ge 2 ]] || { echo "bootstrap_i0.sh: --cluster needs a value" >&2; exit 2; }
               export SWEBOARD_CLUSTER="$2"; shift ;;  # every tool below reads it
    --help|-h) usage; exit 0 ;;
    *) echo "bootstrap_i0.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [[ -n "$RUN_ID" && ! "$RUN_ID" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]]; then
  echo "bootstrap_i0.sh: --run-id '$RUN_ID': expected letters, digits, '.', '_' or '-'" >&2; exit 2
fi
if [[ -n "$RUNNER" && "$RUNNER" != mini && "$RUNNER" != sweagent ]]; then
  echo "bootstrap_i0.sh: --runner '$RUNNER': expected mini or sweagent" >&2; exit 2
fi
if [[ "$OFFLINE" == 1 ]]; then
  SECTION=offline
  [[ ${#MODELS[@]} -gt 0 ]] || MODELS=(scripted/solver instant_empty_submit)
  [[ -n "$RUN_ID" ]] || RUN_ID="i0-offline-$(date -u +%Y%m%dT%H%M%SZ)"
else
  SECTION=swe-bench-lite
  [[ ${#MODELS[@]} -gt 0 ]] || MODELS=(instant_empty_submit)
  [[ -n "$RUN_ID" ]] || RUN_ID="i0-lite-$(date -u +%Y%m%dT%H%M%SZ)"
fi
PY="$ROOT/.venv/bin/python"
BATCH_FLAGS=()
[[ "$RESUME" == 1 ]] && BATCH_FLAGS=(--resume)
[[ -n "$RUNNER" ]] && BATCH_FLAGS+=(--runner "$RUNNER")

step() { echo "== $*"; }

if [[ "$DRY_RUN" == 1 ]]; then
  step "dry run: run id ${RUN_ID}, section ${SECTION}, models: ${MODELS[*]}"
  tools/setup_venv.sh --dry-run
  [[ -x "$PY" ]] || exit 0
  tools/ensure_docker.sh --dry-run
  PF_MODELS=()
  for model in "${MODELS[@]}"; do PF_MODELS+=(--model "$model"); done
  "$PY" tools/preflight.py --run-id "$RUN_ID" --section "$SECTION" "${PF_MODELS[@]}" ${RUNNER:+--runner "$RUNNER"} \
    ${PROBE_FLAGS[@]+"${PROBE_FLAGS[@]}"} --dry-run
  [[ "$PREFLIGHT_ONLY" == 1 ]] && exit 0
  for model in "${MODELS[@]}"; do
    "$PY" tools/run_model_batch.py --run-id "$RUN_ID" --model "$model" --section "$SECTION" --dry-run ${BATCH_FLAGS[@]+"${BATCH_FLAGS[@]}"}
  done
  echo "then: run_evaluation.py --run-id ${RUN_ID}; finish_run.py; collect_manifests.py; generate_leaderboard.py"
  exit 0
fi

if [[ "$RESUME" == 0 && -e "${HOME_DIR}/runs/${RUN_ID}/manifest.json" ]]; then
  echo "bootstrap_i0.sh: runs/${RUN_ID} already exists and is immutable; pass --resume or choose a new --run-id" >&2
  exit 2
fi

step "Python environment (.venv)"
tools/setup_venv.sh
# one driver per run, and --resume only of a run that exists (a mistyped id never starts a new run)
CLAIM_ARGS=(--run-id "$RUN_ID" --pid "$$")
[[ "$RESUME" == 1 ]] && CLAIM_ARGS+=(--resume)
"$PY" tools/claim_run.py "${CLAIM_ARGS[@]}" || exit 2
if [[ "$OFFLINE" == 1 ]]; then tools/ensure_debootstrap.sh; fi

step "Docker engine"
tools/ensure_docker.sh

if [[ "$SECTION" == swe-bench-lite && ! -f "${HOME_DIR}/config/dataset.lock" ]]; then
  step "locking the dataset (config/dataset.lock)"
  "$PY" tools/update_dataset_lock.py
fi

source "$ROOT/tools/lib/scripted_provider.sh"
if [[ "$OFFLINE" == 1 ]]; then
  echo "== scripted provider (TEST EQUIPMENT) on 127.0.0.1"
  start_scripted_provider "$HOME_DIR" "$RUN_ID"
fi

MODEL_FLAGS=()
for model in "${MODELS[@]}"; do MODEL_FLAGS+=(--model "$model"); done
step "preflight: keys, probe, images, evaluator canary, scripted solver through the runner"
PREFLIGHT_FLAGS=()
[[ "$RESUME" == 1 ]] && PREFLIGHT_FLAGS+=(--resume)
[[ -n "$RUNNER" ]] && PREFLIGHT_FLAGS+=(--runner "$RUNNER")
if ! "$PY" tools/preflight.py --run-id "$RUN_ID" --section "$SECTION" "${MODEL_FLAGS[@]}" \
     ${PREFLIGHT_FLAGS[@]+"${PREFLIGHT_FLAGS[@]}"} ${PROBE_FLAGS[@]+"${PROBE_FLAGS[@]}"}; then
  echo "bootstrap_i0.sh: the preflight failed (the line above says what to do); no model was run" >&2
  exit 1
fi
if [[ "$PREFLIGHT_ONLY" == 1 ]]; then echo "preflight only (--preflight): no model was run"; exit 0; fi
step "agent batches, at once: ${MODELS[*]}"
BATCHES_RC=0
"$PY" tools/run_models.py --run-id "$RUN_ID" --section "$SECTION" "${MODEL_FLAGS[@]}" ${BATCH_FLAGS[@]+"${BATCH_FLAGS[@]}"} \
  ${JOBS_FLAGS[@]+"${JOBS_FLAGS[@]}"} || BATCHES_RC=$?

source "$ROOT/tools/lib/fold.sh"
grade_and_fold "$RUN_ID" "${MODELS[@]}"
if [[ "$BATCHES_RC" == 3 ]]; then
  echo "bootstrap_i0.sh: stopped (a budget, quota or damaged ledger; named above); rerun with --resume" >&2
  exit 3
elif [[ "$BATCHES_RC" != 0 ]]; then
  echo "bootstrap_i0.sh: some models failed to run (named above); the run stays open" >&2
  exit 1
fi
