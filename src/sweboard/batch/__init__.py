"""One model over one slice: schedule attempts, hand each to a runner, record everything.

The harness owns the loop. An attempt is one task × one model × one try: its own folder,
seed, container and `record.json`, written once, atomically, when the attempt ends. The
record is the unit of resume: `--resume` skips every attempt that has one, so a finished
attempt's model calls are never repeated, whatever interrupted the run (an attempt cut
short is moved aside as `attempt-<k>.interrupted-<n>` and run again).

Attempts of one task run in order. With `stop_after_resolved` (the default) each attempt
is graded by the official evaluator before the next is launched and the task stops at the
first resolved attempt; otherwise all K run (for the unbiased pass@k estimator) and are
graded later. All model traffic goes through the run's metered gateway (`gateway.py`).
"""

from sweboard.batch.folders import set_aside, set_aside_attempts, set_aside_interrupted, write_record
from sweboard.batch.plan import BatchPlan
from sweboard.batch.run import run_batch, say
from sweboard.batch.run_state import PREFLIGHT_FILES, init_run, reap_containers, record_failure
from sweboard.batch.summary import summarize

__all__ = ["BatchPlan", "PREFLIGHT_FILES", "init_run", "reap_containers", "record_failure", "run_batch", "say",
           "set_aside", "set_aside_attempts", "set_aside_interrupted", "summarize", "write_record"]
