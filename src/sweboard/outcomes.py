"""An attempt's outcome: exactly one class per attempt, decided here and nowhere else.

Why one place: the board's rule is that a model's failure counts against the model and an
infrastructure failure never does. If the agent's exit, the evaluator's verdict and the
gateway's call log were each interpreted where they are read, an attempt could count twice
(a timed-out attempt as both an empty patch and an error) or land on the wrong side of
that line. Every count on the board (`leaderboard.batch_metrics`) starts from
`outcome_of(attempt, verdict)`.

The classes:
- `resolved`, `unresolved`, `empty_patch`: the evaluator graded the attempt;
- `pending`: the attempt needs the evaluator's word and does not have it yet;
- a *failure* class, each with one `err_*` column (`ERROR_COLUMNS`), of one of two kinds:
  the model's (it timed out while working, wrote malformed output, overflowed its context,
  hit the step limit, crashed the agent, or produced a patch the evaluator could not apply)
  or infrastructure's (`INFRA`: the task container never started, the provider failed after
  the gateway's retries or never answered, a budget was spent). Infrastructure attempts are
  never graded, never enter pass@k, and `--resume` runs them again.
"""

from __future__ import annotations

RESOLVED, UNRESOLVED, EMPTY, PENDING = "resolved", "unresolved", "empty_patch", "pending"
GRADED = (RESOLVED, UNRESOLVED, EMPTY)

# failure class -> its leaderboard column (several classes may share a column; never the reverse)
ERROR_COLUMNS = {
    # the model's (with its agent): they count against it
    "timeout": "err_timeout",
    "test_timeout": "err_timeout",
    "malformed_output": "err_malformed_output",
    "context_overflow": "err_context_overflow",
    "step_limit": "err_step_limit",
    "agent_error": "err_agent",
    "malformed_patch": "err_malformed_patch",
    "patch_apply_failed": "err_patch_apply_failed",
    "path_not_found": "err_path_not_found",
    # infrastructure's: never count against the model
    "provider_error": "err_provider_error",
    "rate_limited": "err_rate_limited",
    "provider_timeout": "err_provider_error",
    "infra": "err_infra",
    "model_unavailable": "err_infra",
    "budget_exhausted": "err_infra",
}
INFRA = frozenset({"provider_error", "rate_limited", "provider_timeout", "infra", "model_unavailable",
                   "budget_exhausted"})
ERR_COLUMNS = tuple(dict.fromkeys(ERROR_COLUMNS.values()))
# what the evaluator may say about a patch that is the model's doing (anything else in its
# error_ids is the evaluator's or Docker's trouble, and is no verdict at all)
EVAL_MODEL_ERRORS = frozenset({"malformed_patch", "patch_apply_failed", "path_not_found", "test_timeout"})


def agent_failure(attempt: dict) -> str | None:
    """The failure class of an attempt the agent did not finish with a submission, else None.

    A timeout with not one answered model call is the provider's (it never let the model
    work: a hang, or every call failed), not the model's.
    """
    status = attempt.get("status")
    if status not in ("error", "timeout"):
        return None
    cls = attempt.get("error_class") or ("timeout" if status == "timeout" else "agent_error")
    if cls == "timeout":
        usage = attempt.get("usage") or {}
        if (usage.get("model_calls") or 0) - (usage.get("failed_calls") or 0) <= 0 and usage.get("model_calls") is not None:
            return "provider_timeout"
    return cls if cls in ERROR_COLUMNS else "agent_error"


def needs_grading(attempt: dict) -> bool:
    """Only a finished submission (possibly empty) goes to the evaluator."""
    return agent_failure(attempt) is None


def outcome_of(attempt: dict, verdict: dict | None) -> str:
    """The one class of an attempt, from the agent's exit and (if graded) the evaluator's verdict."""
    failure = agent_failure(attempt)
    if failure is not None:
        return failure
    if not verdict or not verdict.get("verdict"):
        return PENDING
    v = verdict["verdict"]
    if v == "error":
        cls = verdict.get("error_class") or ""
        return cls if cls in EVAL_MODEL_ERRORS else PENDING
    return v if v in GRADED else PENDING


def is_infra(outcome: str) -> bool:
    return outcome in INFRA


def is_failure(outcome: str) -> bool:
    return outcome in ERROR_COLUMNS


def task_outcomes(manifest: dict, model_id: str) -> dict[str, list[dict]]:
    """Per task, its attempts in order, each with its evaluator verdict (if any) and its one outcome class."""
    batch = manifest["batches"][model_id]
    graded = (manifest.get("evaluations", {}).get(model_id) or {}).get("instances", {})
    out = {}
    for iid, attempts in (batch.get("attempts") or {}).items():
        verdicts = {v["attempt"]: v for v in graded.get(iid, [])}
        out[iid] = []
        for a in attempts:
            v = verdicts.get(a["attempt"])
            out[iid].append({**a, "verdict": (v or {}).get("verdict"), "verdict_conflict": bool((v or {}).get("verdict_conflict")),
                             "verdict_reused": bool((v or {}).get("reused_from")),
                             "grader_flip": bool((v or {}).get("grader_flip")),  # two gradings disagreed (regrade.py)
                             "gradings": (v or {}).get("gradings") or [],
                             "outcome": outcome_of(a, v)})
    return out
