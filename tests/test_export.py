"""The export (export_submission.py): the leaderboard's benchmark folder, no logs for an empty patch,
and a self-check with swebench's own grading functions that refuses an export that differs."""

import json
from pathlib import Path

import pytest

from sweboard import export as ex
from sweboard.errors import SweboardError


def _run(home: Path, patches: dict[str, str], dataset: bool = True) -> None:
    run = home / "runs" / "ex"
    attempts, instances, rows = {}, {}, []
    for iid, patch in patches.items():
        folder = run / "attempts" / "m" / iid / "attempt-1"
        logs = run / "evaluation" / "m" / "e1" / "logs" / iid
        folder.mkdir(parents=True)
        logs.mkdir(parents=True)
        (logs / "test_output.txt").write_text("test output\n")
        (logs / "run_instance.log").write_text("log\n")
        (folder / "record.json").write_text(json.dumps({"status": "submitted", "patch": patch, "error_class": ""}))
        verdict = "resolved" if patch else "empty_patch"
        (folder / "verdict.json").write_text(json.dumps({"attempt": 1, "verdict": verdict,
                                                         "instance_log": f"evaluation/m/e1/logs/{iid}/run_instance.log"}))
        attempts[iid] = [{"attempt": 1, "status": "submitted" if patch else "empty", "exit_status": "Submitted",
                          "error_class": "", "usage": None, "duration_seconds": 1.0,
                          "record": f"attempts/m/{iid}/attempt-1/record.json"}]
        instances[iid] = [{"attempt": 1, "verdict": verdict, "error_class": ""}]
        rows.append({"instance_id": iid})
    if dataset:
        (run / "dataset.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    manifest = {"run_id": "ex", "status": "finished", "created_at": "2026-12-01T00:00:00Z",
                "slice": {"instance_ids": list(patches), "split": "dev", "instance_ids_sha256": "x"},
                "dataset_lock": {"repo_id": "sweboard/offline-taskset", "revision": "bundled", "source": "bundled",
                                 "rows": {"dev": 12}},
                "runner_config": {},
                "batches": {"m": {"model": {"id": "m", "provider": "x"}, "kind": "model", "runner": "mini",
                                  "status": "ok", "attempts_per_task": 1, "stop_after_resolved": True,
                                  "wall_seconds": 1.0, "set_aside": [], "attempts": attempts}},
                "evaluations": {"m": {"instances": instances, "failures": [], "wall_seconds": 1.0}}}
    (run / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("repo_id, source, split, folder", [
    ("SWE-bench/SWE-bench_Lite", "huggingface", "test", "lite"),
    ("SWE-bench/SWE-bench_Lite", "huggingface", "dev", "lite-dev"),
    ("SWE-bench/SWE-bench_Verified", "huggingface", "test", "verified"),
    ("SWE-bench/SWE-bench", "huggingface", "test", "test"),
    ("SWE-bench/SWE-bench", "huggingface", "dev", "full-dev"),
    ("sweboard/offline-taskset", "bundled", "dev", "testbench"),
])
def test_the_folder_is_the_leaderboards_benchmark_never_the_split(repo_id, source, split, folder):
    assert ex.benchmark({"dataset_lock": {"repo_id": repo_id, "source": source}, "slice": {"split": split}}) == folder


def test_an_empty_patch_has_no_logs_and_the_self_check_matches(home, monkeypatch):
    _run(home, {"o__r-1": "diff --git a/x b/x\n", "o__r-2": ""})
    monkeypatch.setattr(ex, "_official_grade", lambda row, pred, output: True)
    folder = ex.export("ex", "m", home / "out")
    assert folder.parent == home / "out" / "evaluation" / "testbench"
    assert (folder / "logs" / "o__r-1").is_dir() and not (folder / "logs" / "o__r-2").exists()
    check = json.loads((folder / "self_check.json").read_text())
    assert check["matches"] and check["resolved"] == ["o__r-1"] and check["regraded"] == 2
    readme = (folder / "README.md").read_text()
    assert readme.rstrip().splitlines()[-1] == "Resolved 1 instances (8.3% of the full dev split (12), 50.0% of the slice's 2)"
    assert "evaluation/testbench/" in readme and "not for submission" in readme
    [note] = (home / "runs" / "ex" / "exports").glob("*.json")
    assert json.loads(note.read_text())["matches"] is True


def test_an_export_whose_self_check_differs_is_refused_naming_the_task(home, monkeypatch):
    _run(home, {"o__r-1": "diff --git a/x b/x\n"})
    monkeypatch.setattr(ex, "_official_grade", lambda row, pred, output: False)
    with pytest.raises(SweboardError, match="self-check differs from the board on o__r-1"):
        ex.export("ex", "m", home / "out")
    [folder] = (home / "out" / "evaluation" / "testbench").iterdir()
    assert json.loads((folder / "self_check.json").read_text())["differs"] == ["o__r-1"]
    assert "DIFFERS on o__r-1" in (folder / "README.md").read_text()


def test_without_the_runs_dataset_nothing_is_regraded_and_it_says_so(home):
    _run(home, {"o__r-1": "diff --git a/x b/x\n"}, dataset=False)
    folder = ex.export("ex", "m", home / "out")
    check = json.loads((folder / "self_check.json").read_text())
    assert check["not_regraded"] == ["o__r-1"] and check["matches"]
    assert "not re-gradable (no test output or dataset row): o__r-1" in (folder / "README.md").read_text()
