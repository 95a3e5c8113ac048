"""Command-line entry points, one module per kind of command; each `tools/<name>.py` is a two-line call
into here, and each command is thin: parse, build the run request (`sweboard.request`), validate,
call the room that does the work.

Every CLI answers `--help`, most take `--dry-run`, and any user-facing problem ends as one line
`error: ...` on stderr with exit code 2 (nothing already written is touched).
"""

from sweboard.cli.board import (collect_manifests, compare_runs, export_submission, generate_leaderboard,
                                plan_run, validation_memo)
from sweboard.cli.checks import (check_catalog, describe_slice, interval_coverage, preflight, reconcile_usage,
                                 run_mutants, suggest_timeouts)
from sweboard.cli.drivers import drive
from sweboard.cli.grading import finish_run, run_evaluation
from sweboard.cli.runs import claim_run, run_model_batch, run_models
from sweboard.cli.setup import build_offline_images, update_dataset_lock

__all__ = ["build_offline_images", "check_catalog", "claim_run", "collect_manifests", "compare_runs", "describe_slice",
           "drive", "export_submission", "finish_run", "generate_leaderboard", "interval_coverage", "plan_run",
           "preflight", "reconcile_usage", "run_evaluation", "run_model_batch", "run_models", "run_mutants",
           "suggest_timeouts", "update_dataset_lock", "validation_memo"]
