"""Trust regressions on real runs: evaluator crashes, infrastructure failures, a changed resume,
a crashed model, a second evaluation, and the evaluator canary. Each number right, or absent."""

import csv
import json
import re
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import I0_SLICE, assert_board_identities

ROOT = Path(__file__).resolve().parents[1]


def tool(name, *args, **kw):
    return subprocess.run([sys.executable, str(ROOT / "tools" / f"{name}.py"), *args], capture_output=True, text=True,
                          timeout=600, **kw)


def manifest(home, run_id):
    return json.loads((home / "runs" / run_id / "manifest.json").read_text())


def board(home):
    with (home / "runs" / "leaderboard.csv").open() as f:
        return {(r["run_id"], r["model"]): r for r in csv.DictReader(f)}


def baseline_run(run_id):
    proc = tool("run_model_batch", "--run-id", run_id, "--model", "instant_empty_submit", "--offline", *I0_SLICE)
    assert proc.returncode == 0, proc.stderr


def test_a_resume_with_other_settings_is_refused_naming_them(home):
    baseline_run("r1")
    before = (home / "runs" / "r1" / "manifest.json").read_bytes()
    proc = tool("run_model_batch", "--run-id", "r1", "--model", "instant_empty_submit", "--offline", *I0_SLICE, "--resume",
                "--set", "temperature=0.7", "--set", "attempt_timeout_seconds=90")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "attempt_timeout_seconds: 45.0 -> 90.0" in proc.stderr and "temperature: 0.0 -> 0.7" in proc.stderr
    assert (home / "runs" / "r1" / "manifest.json").read_bytes() == before
    # the same settings resume fine
    assert tool("run_model_batch", "--run-id", "r1", "--model", "instant_empty_submit", "--offline", *I0_SLICE,
                "--resume").returncode == 0


def test_a_model_that_crashes_gets_a_failed_row_and_the_run_cannot_finish(home):
    baseline_run("r2")
    # a real model without its key: the batch never starts
    proc = tool("run_model_batch", "--run-id", "r2", "--model", "Qwen/Qwen3-Coder-30B-A3B-Instruct", "--offline",
                *I0_SLICE, "--resume")  # another model joins a started run: --resume
    assert proc.returncode == 2 and "CHUTES_API_KEY is not set" in proc.stderr
    entry = manifest(home, "r2")["batches"]["Qwen/Qwen3-Coder-30B-A3B-Instruct"]
    assert entry["status"].startswith("failed: ") and "CHUTES_API_KEY" in entry["status"]
    fin = tool("finish_run", "--run-id", "r2")
    assert fin.returncode == 2 and "failed" in fin.stderr and fin.stderr.count("\n") == 1
    # a model the driver expected but that never got an entry also blocks finishing
    fin = tool("finish_run", "--run-id", "r2", "--expect-model", "zai-org/GLM-4.5-Air")
    assert fin.returncode == 2 and "no batch for ['zai-org/GLM-4.5-Air']" in fin.stderr
    assert manifest(home, "r2")["status"] != "finished"
    assert tool("generate_leaderboard").returncode == 0
    row = board(home)[("r2", "Qwen/Qwen3-Coder-30B-A3B-Instruct")]
    assert row["status"].startswith("failed: ") and row["pass@1"] == "" and row["resolved"] == ""


def test_finished_runs_are_not_marked_failed_by_refused_commands(home):
    baseline_run("r3")
    assert tool("run_model_batch", "--run-id", "r3", "--model", "instant_empty_submit", "--offline").returncode == 2
    assert manifest(home, "r3")["batches"]["instant_empty_submit"]["status"] == "ok"


@pytest.mark.docker
def test_an_evaluator_crash_grades_nothing_and_a_rerun_grades_it(home, docker_engine, monkeypatch):
    from sweboard import cli, evaluation

    baseline_run("crash")
    real = evaluation.evaluator_command

    def crashing(*args, **kw):
        return [sys.executable, "-c", "import sys; print('Traceback: harness exploded'); sys.exit(3)"]

    monkeypatch.setattr(evaluation, "evaluator_command", crashing)
    assert cli.run_evaluation(["--run-id", "crash"]) == 0
    m = manifest(home, "crash")
    ev = m["evaluations"]["instant_empty_submit"]
    assert ev["status"].startswith("evaluator failed (evaluation/instant_empty_submit/e1/evaluator.log")
    assert ev["instances"] == {iid: [] for iid in m["slice"]["instance_ids"]}, "no verdict for what was never graded"
    assert len(ev["pending"]) == 3 and ev["failures"][0]["exit_code"] == 3
    assert not list((home / "runs" / "crash").rglob("verdict.json"))
    assert cli.finish_run(["--run-id", "crash"]) == 2
    assert cli.generate_leaderboard([]) == 0
    row = board(home)[("crash", "instant_empty_submit")]
    assert row["status"] == "not graded: evaluator failed (evaluation/instant_empty_submit/e1/evaluator.log)"
    assert row["pass@1"] == "" and row["empty_patches"] == ""

    monkeypatch.setattr(evaluation, "evaluator_command", real)
    assert cli.run_evaluation(["--run-id", "crash"]) == 0  # the rerun retries exactly the ungraded attempts
    ev = manifest(home, "crash")["evaluations"]["instant_empty_submit"]
    assert ev["status"] == "ok" and ev["failures"] == [] and len(ev["harness_runs"]) == 2
    assert cli.finish_run(["--run-id", "crash"]) == 0
    assert cli.generate_leaderboard([]) == 0
    row = board(home)[("crash", "instant_empty_submit")]
    assert (row["status"], row["pass@1"], row["empty_patches"]) == ("ok", "0.0", "3")
    assert_board_identities(home / "runs" / "leaderboard.csv")


def test_instances_missing_from_the_harness_report_get_no_verdict(tmp_path):
    from sweboard.harness import read_verdicts

    (tmp_path / "m.e1.json").write_text(json.dumps({"resolved_ids": ["a"], "error_ids": []}))
    verdicts, report = read_verdicts(tmp_path, "m", "e1", ["a", "b"])
    assert verdicts == {"a": "resolved"} and report is not None


def test_without_a_run_report_only_instances_the_harness_graded_keep_their_grade(tmp_path):
    """The harness crashed in its last step (listing the machine's containers while another evaluation
    removed one): the per-instance reports it had written are its grades; nothing else is read."""
    from sweboard.harness import instance_log_dir, read_verdicts

    def graded(iid, **fields):
        d = instance_log_dir(tmp_path, "e1", "m/x", iid)
        d.mkdir(parents=True)
        (d / "report.json").write_text(json.dumps({iid: {"patch_successfully_applied": True, "infra_failure": False,
                                                         **fields}}))
    graded("a", resolved=True)
    graded("b", resolved=False)
    graded("c", resolved=False, infra_failure=True)  # the harness's own trouble: no verdict
    graded("d", resolved=True, patch_successfully_applied=False)
    d = instance_log_dir(tmp_path, "e1", "m/x", "e")
    d.mkdir(parents=True)
    (d / "report.json").write_text('{"e": {"resol')  # cut short: no verdict
    verdicts, report = read_verdicts(tmp_path, "m/x", "e1", ["a", "b", "c", "d", "e", "f"])
    assert verdicts == {"a": "resolved", "b": "unresolved"} and report is None
    (tmp_path / "m__x.e1.json").write_text(json.dumps({"unresolved_ids": ["a"]}))
    assert read_verdicts(tmp_path, "m/x", "e1", ["a", "b"])[0] == {"a": "unresolved"}  # the run report wins


def test_a_second_disagreeing_verdict_is_kept_and_flagged_never_overwritten(tmp_path):
    from sweboard.records import read_verdict, verdict_conflicts, write_verdict

    first = {"attempt": 1, "verdict": "resolved", "error_class": "", "evaluator": {"run_id": "r.m.e1"}}
    second = {"attempt": 1, "verdict": "unresolved", "error_class": "", "evaluator": {"run_id": "r.m.e2"}}
    write_verdict(tmp_path, first)
    assert write_verdict(tmp_path, dict(first, evaluator={"run_id": "r.m.e3"})) == first  # agreeing: dropped
    assert verdict_conflicts(tmp_path) == []
    assert write_verdict(tmp_path, second) == first
    assert read_verdict(tmp_path)["verdict"] == "resolved"
    assert verdict_conflicts(tmp_path) == ["verdict.conflict-r.m.e2.json"]


@pytest.mark.docker
def test_two_evaluations_of_one_model_at_once_grade_each_attempt_once(home, docker_engine):
    baseline_run("twice")
    procs = [subprocess.Popen([sys.executable, str(ROOT / "tools" / "run_evaluation.py"), "--run-id", "twice"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        p.communicate(timeout=600)
        assert p.returncode == 0
    invocations = list((home / "runs" / "twice" / "evaluation").rglob("invocation.json"))
    assert len(invocations) == 1, "the second evaluation waited, then found nothing left to grade"
    ev = manifest(home, "twice")["evaluations"]["instant_empty_submit"]
    assert ev["verdict_conflicts"] == [] and ev["counts"]["empty_patch"] == 3


@pytest.mark.docker
def test_a_missing_task_image_is_infrastructure_and_resume_reruns_it(home, provider, offline_images):
    """A task whose image is absent never ran: classed infra with the cause, not graded, row incomplete;
    once the image is back, --resume sets the attempt aside and runs it."""
    from sweboard.batch import BatchPlan, run_batch
    from sweboard.catalog import load_catalog
    from sweboard.dataset_lock import load_locked_rows
    from sweboard.dockerutil import docker
    from sweboard.instances import load_slice
    from sweboard.paths import config_dir
    from sweboard.runconfig import load_runner_config
    from sweboard.runners import get_runner

    sl = load_slice(config_dir() / "instances_i0.yaml", "offline")
    lock, rows = load_locked_rows(sl.dataset_lock, sl.split, list(sl.instance_ids))
    # the victim's row names an image of this test's own (absent): the shared images are never touched
    shared = rows[0]["image"]
    victim = rows[0] = {**rows[0], "image": f"sweboard-offline/test-missing-{os.getpid()}:latest"}
    plan = BatchPlan("infra", load_catalog().get("scripted/solver"), sl, lock, rows, load_runner_config())
    entry = run_batch(plan, get_runner("mini"), log=lambda s: None)
    docker("tag", shared, victim["image"])  # the image is back
    [a] = entry["attempts"][victim["instance_id"]]
    assert (a["status"], a["error_class"]) == ("error", "infra")
    record = json.loads((home / "runs" / "infra" / a["record"]).read_text())
    assert "is not present locally" in record["error"] and victim["image"] in record["error"]
    assert entry["status"] == "incomplete"
    from sweboard import cli

    assert cli.run_evaluation(["--run-id", "infra"]) == 0
    assert not (home / "runs" / "infra" / Path(a["record"]).parent / "verdict.json").exists(), "never graded"
    assert cli.generate_leaderboard([]) == 0
    row = board(home)[("infra", "scripted/solver")]
    assert row["status"] == "incomplete: 1 tasks hit infrastructure errors (--resume reruns them)"
    assert (row["pass@1"], row["empty_patches"], row["err_infra"]) == ("", "", "1")

    entry = run_batch(plan, get_runner("mini"), resume=True, log=lambda s: None)
    assert entry["status"] == "ok" and entry["attempts"][victim["instance_id"]][0]["status"] == "submitted"
    assert [x["reason"] for x in entry["set_aside"]] == ["infra"]
    assert cli.run_evaluation(["--run-id", "infra"]) == 0
    assert cli.generate_leaderboard([]) == 0
    row = board(home)[("infra", "scripted/solver")]
    assert (row["status"], row["resolved"], row["err_infra"], row["attempts_infra_retried"]) == ("ok", "3", "0", "1")
    docker("rmi", victim["image"])  # only the tag this test made


@pytest.mark.docker
def test_a_container_that_cannot_start_keeps_dockers_words(tmp_path, docker_engine):
    spec = {"instance_id": "x", "image": "sweboard-offline/no-such-image:latest", "problem_statement": "p",
            "model_name": "openai/x", "model_kwargs": {"api_base": "http://127.0.0.1:9/v1"}, "step_limit": 1,
            "cost_limit": 0, "command_timeout": 5, "container_label": "t-nostart",
            "trajectory_path": str(tmp_path / "t.json"), "result_path": str(tmp_path / "r.json"),
            "session_file": str(tmp_path / ".session"), "session": "s1"}
    (tmp_path / ".session").write_text("s1")
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    env = {"MSWEA_GLOBAL_CONFIG_DIR": str(tmp_path / "cfg"), "MSWEA_SILENT_STARTUP": "1", "PATH": "/usr/bin:/bin:/usr/local/bin",
           "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    proc = subprocess.run([sys.executable, "-m", "sweboard.runners.mini_attempt", str(tmp_path / "spec.json")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["exit_status"] == "EnvironmentStartFailed"
    assert "No such image" in result["error"], result["error"]


@pytest.mark.docker
def test_the_evaluator_canary_grades_gold_and_empty_on_the_slice(home, offline_images):
    proc = tool("run_evaluation", "--gold", "--offline", "--run-id", "canary-x")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASSED: gold 4/4 resolved, empty 0/4" in proc.stdout
    m = manifest(home, "canary-x")
    assert m["kind"] == "canary" and m["canary"]["passed"] and m["status"] == "finished"
    assert m["evaluations"]["canary/gold"]["counts"]["resolved"] == 4
    assert m["evaluations"]["canary/empty"]["counts"]["empty_patch"] == 4
    assert tool("generate_leaderboard").returncode == 0
    assert not any(r == "canary-x" for r, _ in board(home)), "a canary is a check, never a leaderboard row"
    # the harness's test containers, as Docker reported them when they were made: no network, no added capability
    logs = "\n".join(p.read_text() for p in (home / "runs" / "canary-x" / "evaluation").rglob("evaluator.log"))
    made = re.findall(r"sweboard: container sweb\.eval\.\S+: [^\n]*", logs)
    assert len(made) == 4 and all("NetworkMode=none CapAdd=None" in line for line in made), made


@pytest.mark.docker
def test_each_distinct_patch_is_graded_once_per_run(home, provider, offline_images):
    """The wrong model submits the same patch in both attempts: the second is not graded again."""
    from sweboard import cli

    proc = tool("run_model_batch", "--run-id", "once", "--model", "scripted/wrong", "--offline", *I0_SLICE,
                "--attempts", "2")
    assert proc.returncode == 0, proc.stderr
    assert cli.run_evaluation(["--run-id", "once"]) == 0
    ev = manifest(home, "once")["evaluations"]["scripted/wrong"]
    assert ev["reused"] == 3 and ev["counts"]["unresolved"] == 6
    for iid, (first, second) in ev["instances"].items():
        assert first["verdict"] == second["verdict"] == "unresolved"
        assert second["reused_from"] == f"attempts/scripted__wrong/{iid}/attempt-1/verdict.json"
    graded = [json.loads(p.read_text()) for p in (home / "runs" / "once" / "evaluation").rglob("invocation.json")]
    assert sum(len(g["attempts"]) for g in graded) == 3, "only the three first attempts reached the evaluator"
