"""The official SWE-bench harness, invoked and read: its command line, one run of it, its verdicts.

Why its own room: the evaluator (grading attempts), the executors (running the harness where an
attempt ran) and the node canary all need exactly this, and nothing else of each other. The
harness itself (`swebench==5.0.2`) is never changed; what it writes is read here:
- verdicts are cached per evaluator run id (an existing `report.json` is reused even for a
  different patch), so every invocation gets a fresh evaluator run id, never reused;
- a patch that fails to apply, and a test timeout, land in `error_ids` (no report.json), not
  `unresolved_ids`; empty patches land in `empty_patch_ids` without a container; the instance
  log says *why* an error happened (malformed patch, path not found...);
- `swebench report` only works for gold runs, so `run_evaluation` runs and its per-run report and
  per-instance `report.json` are read here.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
from pathlib import Path

from sweboard.isolation import python_argv
from sweboard.runners.base import child_env


VERDICT_KEYS = (("resolved_ids", "resolved"), ("unresolved_ids", "unresolved"),
                ("empty_patch_ids", "empty_patch"), ("error_ids", "error"))


HARNESS_MODULE = "swebench.harness.run_evaluation"


def evaluator_command(dataset: Path, split: str, predictions: Path | str, eval_run_id: str, instance_ids: list[str],
                      workers: int, timeout: int) -> list[str]:
    return [*python_argv("-m", HARNESS_MODULE),
            "--dataset_name", str(dataset), "--split", split,
            "--predictions_path", str(predictions), "--run_id", eval_run_id,
            "--max_workers", str(workers), "--timeout", str(timeout), "--report_dir", ".",
            "--instance_ids", *instance_ids]


def _harness_args(cmd: list[str]) -> list[str] | None:
    """The harness's own arguments when `cmd` is `python [-I] -m swebench.harness.run_evaluation ARGS`."""
    rest = cmd[1:]
    rest = rest[1:] if rest[:1] == ["-I"] else rest
    return rest[2:] if rest[:2] == ["-m", HARNESS_MODULE] else None


def run_harness(cmd: list[str], workdir: Path) -> tuple[int, float]:
    """Run the harness command `cmd` (`python -m swebench.harness.run_evaluation ...`) in `workdir`;
    its output goes to `evaluator.log` there. The same module and argv run through `harness_fork.py`
    (one docker-py call mended): by default in a fork of the machine's warm host, which imported the
    harness once; with `SWEBOARD_WARM_START=0`, or when no warm host answers, in a fresh interpreter."""
    from sweboard.runners import warm

    workdir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with (workdir / "evaluator.log").open("w") as log:
        log.write("$ " + shlex.join(cmd) + "\n")
        log.flush()
        env = child_env(None, {})
        args = _harness_args(cmd)
        harness = args is not None  # anything else (a test's stand-in) runs as it is
        if harness:
            spec = workdir / "harness_argv.json"
            spec.write_text(json.dumps({"args": args, "cwd": str(workdir)}, indent=2))
            cmd = python_argv("-m", "sweboard.harness_fork", str(spec), python=cmd[0])
        fork = None
        if harness:  # no warm host: a fresh interpreter grades as well (said in the log)
            fork = warm.spawn_or_none("sweboard.harness_fork", spec, env, log.fileno())
        if fork is not None:
            try:
                code = fork.wait()
            finally:
                fork.close()
        else:
            code = subprocess.run(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL).returncode
    return code, time.monotonic() - start


def read_verdicts(workdir: Path, model_name: str, eval_run_id: str, instance_ids: list[str]) -> tuple[dict, Path | None]:
    """Per-instance verdicts from the harness's run report. An instance the report does not name
    (the harness crashed, or never reached it) has no verdict: it stays pending, never `error`.

    Without a run report, an instance the harness had already graded keeps its grade: the harness
    writes each instance's `report.json` (its own `get_eval_report`) before the run report, and
    that last step lists every container on the machine and crashes when one vanishes between the
    listing and the inspection (docker SDK `NotFound`): routine when evaluations and agents run
    side by side. Only resolved / unresolved are read from there; anything else stays pending."""
    report = workdir / f"{model_name.replace('/', '__')}.{eval_run_id}.json"
    verdicts = {}
    if report.is_file():
        try:
            data = json.loads(report.read_text())
        except json.JSONDecodeError:
            data = {}
        for key, verdict in VERDICT_KEYS:
            for iid in data.get(key, []) if isinstance(data, dict) else []:
                if iid in instance_ids:
                    verdicts.setdefault(iid, verdict)
        return verdicts, report
    for iid in instance_ids:
        path = instance_log_dir(workdir, eval_run_id, model_name, iid) / "report.json"
        try:
            graded = json.loads(path.read_text()).get(iid) if path.is_file() else None
        except (OSError, json.JSONDecodeError, AttributeError):
            graded = None
        if (isinstance(graded, dict) and graded.get("patch_successfully_applied") and not graded.get("infra_failure")
                and isinstance(graded.get("resolved"), bool)):
            verdicts[iid] = "resolved" if graded["resolved"] is True else "unresolved"
    return verdicts, None


def instance_log_dir(workdir: Path, eval_run_id: str, model_name: str, instance_id: str) -> Path:
    return workdir / "logs" / "run_evaluation" / eval_run_id / model_name.replace("/", "__") / instance_id


_APPLY_FAILED = ">>>>> Patch Apply Failed"


def error_class(log_dir: Path) -> str:
    """Why the harness could not grade: read from its instance log (it says, but does not classify)."""
    log = log_dir / "run_instance.log"
    text = log.read_text(errors="replace") if log.is_file() else ""
    if _APPLY_FAILED in text or "Patch Apply Failed" in text:
        if re.search(r"corrupt patch|malformed patch|Only garbage was found|patch fragment without header", text):
            return "malformed_patch"
        if re.search(r"No such file or directory|can't find file to patch|does not exist in index", text):
            return "path_not_found"
        return "patch_apply_failed"
    if "Test timed out" in text or "timed out after" in text:
        return "test_timeout"
    return "evaluator_error"


ENVIRONMENT, AMBIGUOUS = "environment", "ambiguous"


def read_tiers(workdir: Path, model_name: str, eval_run_id: str, instance_ids: list[str]) -> dict[str, tuple[str, str]]:
    """swebench 5.x's own word on failures that may be infrastructure's (`harness/infra_failure.py`):
    instance -> (tier, reason), tier `environment` (cannot come from the patch: out of memory, container
    unavailable, ...) or `ambiguous` (either: a missing module, no tests collected, tests timed out). From
    the run report, or, without one, each instance's report.json (environment only)."""
    out: dict[str, tuple[str, str]] = {}
    report = workdir / f"{model_name.replace('/', '__')}.{eval_run_id}.json"
    try:
        data = json.loads(report.read_text()) if report.is_file() else None
    except (OSError, ValueError):
        data = None
    if isinstance(data, dict):
        reasons = data.get("failure_reasons") if isinstance(data.get("failure_reasons"), dict) else {}
        for key, tier in (("infra_failure_ids", ENVIRONMENT), ("ambiguous_failure_ids", AMBIGUOUS)):
            for iid in data.get(key) or []:
                if iid in instance_ids:
                    out[iid] = (tier, str(reasons.get(iid, ""))[:80])
        return out
    for iid in instance_ids:
        path = instance_log_dir(workdir, eval_run_id, model_name, iid) / "report.json"
        try:
            graded = json.loads(path.read_text()).get(iid) if path.is_file() else None
        except (OSError, ValueError, AttributeError):
            graded = None
        if isinstance(graded, dict) and graded.get("infra_failure"):
            out[iid] = (ENVIRONMENT, str(graded.get("infra_failure_reason", ""))[:80])
    return out
