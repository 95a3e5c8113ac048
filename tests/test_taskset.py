"""The bundled offline task set: schema, determinism, variety."""

import json

import datasets

from sweboard.testbench import taskset
from sweboard.dataset_lock import REQUIRED_COLUMNS


def test_rows_have_the_swe_bench_5x_schema():
    rows = taskset.load_rows()
    for row in rows:
        assert set(taskset.COLUMNS) <= set(row)
        assert set(REQUIRED_COLUMNS) <= set(row)
        assert isinstance(json.loads(row["FAIL_TO_PASS"]), list) and json.loads(row["FAIL_TO_PASS"])
        assert row["image"] == taskset.image_name(row["instance_id"])
        assert "_1776_" in row["image"] and row["image"].endswith(":latest")
        assert row["eval_type"] == "pass_and_fail" and row["log_parser"] == "parse_log_pytest"
        assert ">>>>> Start Test Output" in row["eval_script"] and "python -m pytest" in row["eval_script"]


def test_variety_the_pipeline_needs():
    rows = taskset.load_rows()
    repos = taskset.load_repos()
    assert len(rows) >= 10 and len(repos) >= 4
    assert sum(r["split"] == "dev" for r in rows) >= 10, "the offline i3 slice is the dev split"
    assert any(any(req.startswith("numpy") for req in repo.requirements) for repo in repos.values()), "a numpy task"
    assert len({r.version for r in repos.values()}) == len(repos)
    files_touched = [len(taskset._files_in_patch(r["patch"])) for r in rows]
    assert max(files_touched) >= 2, "a fix spanning two files"
    assert any(len(r["patch"].splitlines()) <= 12 for r in rows), "a one-line fix"
    assert any(any(req.startswith("python-dateutil") for req in repo.requirements) for repo in repos.values())
    assert any((repo.files_dir / "src").is_dir() for repo in repos.values()), "a src/ layout"
    assert any(len(json.loads(r["PASS_TO_PASS"])) >= 4 for r in rows)
    assert {r["split"] for r in rows} == {"dev", "test"}


def test_history_replay_is_deterministic(tmp_path):
    for repo in taskset.load_repos().values():
        first = taskset.build_repo(repo, tmp_path / "a" / repo.name)
        second = taskset.build_repo(repo, tmp_path / "b" / repo.name)
        assert first == second == repo.base_commit
        log = taskset._git(tmp_path / "a" / repo.name, "log", "--format=%an|%ad", "--date=iso-strict")
        assert len(log.splitlines()) == len(repo.history)


def test_dataset_folder_loads_with_datasets_dev_and_test(tmp_path):
    folder = taskset.write_dataset(tmp_path / "ds")
    cache = tmp_path / "hf-datasets-cache"  # a fresh cache: a stale one keyed by the folder name would be reused
    dev = datasets.load_dataset(str(folder), split="dev", cache_dir=str(cache))
    test = datasets.load_dataset(str(folder), split="test", cache_dir=str(cache))
    rows = taskset.load_rows()
    assert len(dev) == sum(r["split"] == "dev" for r in rows)
    assert len(test) == sum(r["split"] == "test" for r in rows)
    assert set(dev.column_names) == set(taskset.COLUMNS)


def test_writing_twice_gives_identical_bytes(tmp_path):
    a = taskset.write_dataset(tmp_path / "a")
    b = taskset.write_dataset(tmp_path / "b")
    for rel in ("data/dev-00000-of-00001.jsonl", "data/test-00000-of-00001.jsonl", "README.md"):
        assert (a / rel).read_bytes() == (b / rel).read_bytes()
