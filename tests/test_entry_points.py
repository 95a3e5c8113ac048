"""One way in: each rule of `sweboard.request` at each entry point that takes its part.

Every case runs the real command line (a driver through bash, a tool through its `tools/*.py`), so a new
rule or a new tool cannot skip one: add the tool to ENTRIES with the parts it takes, and every rule of
those parts is checked on it. None of these cases needs Docker: each is refused (or planned) before
anything runs.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ONE = "sweboard-fixtures__tinycalc-1"


def command(entry: str, home: Path) -> list[str]:
    """The entry's command line up to its own required arguments (a run id comes from each case)."""
    preds = home / "preds.jsonl"
    preds.write_text(json.dumps({"instance_id": ONE, "model_patch": ""}) + "\n")
    tools = ROOT / "tools"
    return {
        "bootstrap_i0.sh": ["bash", str(tools / "bootstrap_i0.sh")],
        "run_i1.sh": ["bash", str(tools / "run_i1.sh"), "--execute"],
        "run_models.py": [sys.executable, str(tools / "run_models.py"), "--model", "instant_empty_submit"],
        "run_model_batch.py": [sys.executable, str(tools / "run_model_batch.py"), "--model", "instant_empty_submit"],
        "preflight.py": [sys.executable, str(tools / "preflight.py"), "--model", "instant_empty_submit"],
        "run_evaluation.py --predictions": [sys.executable, str(tools / "run_evaluation.py"), "--predictions",
                                            str(preds), "--model-name", "elsewhere/model"],
        "run_evaluation.py": [sys.executable, str(tools / "run_evaluation.py")],
        "finish_run.py": [sys.executable, str(tools / "finish_run.py")],
        "export_submission.py": [sys.executable, str(tools / "export_submission.py"), "--model", "m", "--out",
                                 str(home / "out")],
        "claim_run.py": [sys.executable, str(tools / "claim_run.py"), "--pid", str(os.getpid())],
        "validation_memo.py": [sys.executable, str(tools / "validation_memo.py")],
    }[entry]


# entry -> the parts of a request it takes (request.PARTS, plus "existing": the run must exist already)
ENTRIES = {
    "bootstrap_i0.sh": {"run", "resume", "slice", "settings", "writes"},
    "run_i1.sh": {"run", "resume", "slice", "settings", "writes"},
    "run_models.py": {"run", "resume", "slice", "settings", "writes", "calls"},
    "run_model_batch.py": {"run", "resume", "slice", "settings", "writes", "calls"},
    "preflight.py": {"run", "resume", "slice", "settings", "writes"},
    "run_evaluation.py --predictions": {"run", "resume", "slice", "settings", "writes"},
    "run_evaluation.py": {"run", "existing"},
    "finish_run.py": {"run", "existing", "writes"},
    "export_submission.py": {"run", "existing"},
    "claim_run.py": {"run", "resume", "writes"},
    "validation_memo.py": {"run", "existing"},
}


def entries(*needs: str) -> list[str]:
    return [e for e, parts in ENTRIES.items() if set(needs) <= parts]


def run(home: Path, entry: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "SWEBOARD_HOME": str(home), "SWEBOARD_CREDENTIALS": str(home / "secrets" / "credentials.txt")}
    return subprocess.run([*command(entry, home), *args], capture_output=True, text=True, timeout=timeout, env=env)


def one_line(proc) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-500:], proc.stderr[-500:])
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: "), proc.stderr
    return proc.stderr


def files(home: Path) -> list[Path]:
    return sorted(p.relative_to(home) for p in home.rglob("*") if "out" not in p.parts and p.name != "preds.jsonl")


# --- rule: a model whose provider has no address is refused before the batch (not failed attempt by attempt)
@pytest.mark.parametrize("entry", entries("calls"))
def test_a_model_without_an_address_is_refused_before_any_attempt(home, entry, monkeypatch):
    monkeypatch.delenv("SWEBOARD_SCRIPTED_BASE_URL", raising=False)
    before = files(home)
    line = one_line(run(home, entry, "--run-id", "noaddr", "--model", "scripted/solver", "--offline"))
    assert "--model scripted/solver" in line and "SWEBOARD_SCRIPTED_BASE_URL" in line, line
    assert files(home) == before


# --- rule: a run id is a safe folder name -------------------------------------------------------------
@pytest.mark.parametrize("entry", entries("run"))
@pytest.mark.parametrize("bad", ["../x", "a/b", "x" * 101, "-dash", "a..b"])
def test_a_run_id_that_could_leave_runs_is_refused_everywhere(home, entry, bad):
    before = files(home)
    assert "expected 1-100 letters" in one_line(run(home, entry, f"--run-id={bad}", "--offline"
                                                      if "slice" in ENTRIES[entry] else "--dry-run"))
    assert files(home) == before


# --- rule: --resume continues only a started run, the dry run too -------------------------------------
@pytest.mark.parametrize("entry", entries("resume"))
@pytest.mark.parametrize("dry", [False, True])
def test_resume_of_a_run_never_started_is_refused_with_the_nearest_ids(home, entry, dry):
    (home / "runs" / "typo-run-one").mkdir()
    (home / "runs" / "typo-run-one" / "manifest.json").write_text("{}")
    (home / "runs" / "typo-run-one.canary").mkdir()
    args = ["--run-id", "typo-run-on", "--resume", *(["--offline"] if "slice" in ENTRIES[entry] else []),
            *(["--dry-run"] if dry else [])]
    before = files(home)
    line = one_line(run(home, entry, *args))
    assert "there is no run 'typo-run-on' to resume; nearest: typo-run-one" in line and ".canary" not in line
    assert files(home) == before, "nothing was started"


# --- rule: who holds a run is checked before whether it exists ----------------------------------------
@pytest.mark.parametrize("entry", entries("writes"))
def test_a_run_held_by_another_process_names_its_holder_first(home, entry):
    from sweboard import runclaim

    holder = subprocess.Popen(["sleep", "60"])
    try:
        runclaim.claim("held", holder.pid)
        args = ["--run-id", "held", *(["--resume"] if "resume" in ENTRIES[entry] else []),
                *(["--offline"] if "slice" in ENTRIES[entry] else [])]
        assert f"run held is being run by PID {holder.pid}" in one_line(run(home, entry, *args))
    finally:
        holder.kill()
        holder.wait()


# --- rule: a started run is continued only with --resume ----------------------------------------------
@pytest.mark.parametrize("entry", [e for e in entries("resume", "writes") if e != "claim_run.py"])
def test_a_started_run_without_resume_is_refused(home, entry):
    (home / "runs" / "begun").mkdir()
    (home / "runs" / "begun" / "preflight.json").write_text(json.dumps({"passed": False}))  # the preflight began it
    assert "run begun is started already" in one_line(run(home, entry, "--run-id", "begun", "--offline"))


# --- rule: the slice, its default and every selection flag, the same everywhere -----------------------
SELECTION = [(("--instance-ids", ONE), 1), (("--filter", "tinycalc"), 2), (("--slice", "0:2"), 2)]


@pytest.mark.parametrize("entry", ["run_models.py", "run_model_batch.py", "preflight.py",
                                   "run_evaluation.py --predictions", "run_i1.sh"])
@pytest.mark.parametrize("flags, tasks", SELECTION)
def test_selection_flags_are_honoured_and_passed_on(home, entry, flags, tasks):
    proc = run(home, entry, "--run-id", "sel", "--offline", *flags, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f" {tasks} tasks" in out or f"x {tasks} tasks" in out, out[-1500:]
    if entry in ("run_models.py", "run_i1.sh"):  # each batch gets exactly the selected ids
        batch_lines = [line for line in out.splitlines() if "run_model_batch.py" in line]
        assert batch_lines and all(line.count("sweboard-fixtures__") == tasks for line in batch_lines), batch_lines


@pytest.mark.parametrize("entry", ["run_models.py", "run_model_batch.py", "preflight.py"])
def test_every_tool_defaults_to_the_same_slice_file(home, entry):
    proc = run(home, entry, "--run-id", "default", "--offline", "--dry-run")
    assert proc.returncode == 0 and "instances_i1.yaml" in proc.stdout and " 4 tasks" in proc.stdout, proc.stdout


@pytest.mark.parametrize("entry", entries("slice"))
def test_a_selection_that_leaves_nothing_is_one_line(home, entry):
    line = one_line(run(home, entry, "--run-id", "none", "--offline", "--filter", "no-such-task", "--dry-run"))
    assert "the selection leaves no task" in line


# --- rule: a resumed run keeps its settings and its tasks; a preflight counts for its own tasks ---------
def started_run(home: Path, run_id: str, ids: list[str]) -> None:
    from sweboard.instances import load_slice, select
    from sweboard.runconfig import load_runner_config

    sl = select(load_slice(home / "config" / "instances_i1.yaml", "offline"), ids)
    rd = home / "runs" / run_id
    rd.mkdir()
    (rd / "manifest.json").write_text(json.dumps({
        "run_id": run_id, "status": "running", "slice": {"file": str(sl.path), "section": "offline", "split": "dev",
                                                         "instance_ids": ids, "instance_ids_sha256": sl.ids_hash},
        "dataset_lock": {"repo_id": "sweboard/offline-taskset", "revision": "bundled"},
        "runner_config": load_runner_config().to_dict(), "batches": {}, "evaluations": {}}))


@pytest.mark.parametrize("entry", [e for e in entries("resume", "settings")])
def test_a_resume_with_other_settings_is_refused_naming_them(home, entry):
    started_run(home, "set-run", [ONE])
    line = one_line(run(home, entry, "--run-id", "set-run", "--resume", "--offline", "--instance-ids", ONE,
                        "--set", "temperature=0.5", "--dry-run"))
    assert "started with other settings (" in line and "temperature: 0.0 -> 0.5" in line


@pytest.mark.parametrize("entry", [e for e in entries("resume", "slice")])
def test_a_resume_on_other_tasks_is_refused(home, entry):
    started_run(home, "task-run", [ONE])
    line = one_line(run(home, entry, "--run-id", "task-run", "--resume", "--offline", "--dry-run"))
    assert "was started on another task selection" in line


@pytest.mark.parametrize("entry", [e for e in entries("resume", "slice")])
def test_a_preflight_counts_only_for_the_tasks_it_checked(home, entry):
    (home / "runs" / "pf-run").mkdir()
    (home / "runs" / "pf-run" / "preflight.json").write_text(json.dumps({"passed": True, "instance_ids_sha256": "x"}))
    line = one_line(run(home, entry, "--run-id", "pf-run", "--resume", "--offline", "--dry-run"))
    assert "its preflight checked another task selection" in line


# --- rule: settings through one loader with one set of bounds ----------------------------------------
@pytest.mark.parametrize("entry", entries("settings"))
@pytest.mark.parametrize("bad, message", [("--set=tiemout=3", "--set tiemout: unknown setting"),
                                          ("--set=attempt_timeout_seconds=nan", "expected a finite number"),
                                          ("--attempts=7", "--attempts 7: expected 1, 2 or 3"),
                                          ("--runner=claude", "--runner 'claude': expected mini or sweagent")])
def test_bad_settings_are_one_line_at_every_entry(home, entry, bad, message):
    assert message in one_line(run(home, entry, "--run-id", "settings", "--offline", bad, "--dry-run"))


# --- rule: a run that must exist is named when it does not ---------------------------------------------
@pytest.mark.parametrize("entry", entries("existing"))
def test_a_run_that_must_exist_is_named_with_the_nearest(home, entry):
    (home / "runs" / "graded-run").mkdir()
    (home / "runs" / "graded-run" / "manifest.json").write_text("{}")
    line = one_line(run(home, entry, "--run-id", "graded-rum"))
    assert "runs/graded-rum/manifest.json: no such run; nearest: graded-run" in line


def test_compare_runs_takes_two_run_ids_by_the_same_rules(home):
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "compare_runs.py"), "../a", "b"], capture_output=True,
                          text=True, env={**os.environ, "SWEBOARD_HOME": str(home)})
    assert "expected 1-100 letters" in one_line(proc)
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "compare_runs.py"), "nope-a", "nope-b"],
                          capture_output=True, text=True, env={**os.environ, "SWEBOARD_HOME": str(home)})
    assert "runs/nope-a/manifest.json: no such run" in one_line(proc)
