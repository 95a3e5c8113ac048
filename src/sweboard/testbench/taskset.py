"""The bundled offline task set, assembled into a SWE-bench 5.x dataset.

Why plain files: a person can read and diff each repo, gold patch and test patch. The git
history of each tiny repo is replayed with a fixed identity and fixed dates, so `base_commit`
is the same on every machine, and `repo.yaml` records it so drift is caught, not absorbed.

The dataset is written in the layout of a HuggingFace dataset repo (README with split
configs + `data/<split>-00000-of-00001.jsonl`), so `datasets.load_dataset(dir, split="dev")`
and the dataset lock treat it exactly like a downloaded SWE-bench snapshot. JSONL (not
parquet) keeps the bytes, and so the lock's sha256, identical across library versions.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sweboard.errors import SweboardError
from sweboard.locks import file_lock
from sweboard.paths import TASKSET_DIR, cache_dir
from sweboard.yamlio import load_yaml, require

OFFLINE_DATASET_ID = "sweboard/offline-taskset"
IMAGE_NAMESPACE = "sweboard-offline"
SPLITS = ("dev", "test")
# Column order of SWE-bench 5.x rows (all strings; the test lists JSON-encoded).
COLUMNS = (
    "repo", "instance_id", "base_commit", "patch", "test_patch", "problem_statement",
    "hints_text", "created_at", "version", "FAIL_TO_PASS", "PASS_TO_PASS",
    "environment_setup_commit", "image", "eval_script", "log_parser", "eval_type",
)
_GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "sweboard fixtures",
    "GIT_AUTHOR_EMAIL": "fixtures@sweboard.invalid",
    "GIT_COMMITTER_NAME": "sweboard fixtures",
    "GIT_COMMITTER_EMAIL": "fixtures@sweboard.invalid",
}
HEREDOC = "EOF_114329324912"  # the delimiter SWE-bench's own eval scripts use


@dataclass(frozen=True)
class FixtureRepo:
    """One tiny repository of the task set, as described by its `repo.yaml`."""

    name: str  # folder name, e.g. "tinycalc"
    repo: str  # SWE-bench style "owner/name"
    version: str
    requirements: tuple[str, ...]
    history: tuple[dict, ...]
    base_commit: str
    files_dir: Path
    leak: dict | None = None  # test equipment: the fix of `leak.task` committed on a branch and tagged


    @property
    def env_key(self) -> str:
        return self.repo.replace("/", "__")


def image_name(instance_id: str) -> str:
    """The image tag a row names: SWE-bench's convention under our own namespace."""
    return f"{IMAGE_NAMESPACE}/sweb.eval.x86_64.{instance_id.replace('__', '_1776_')}:latest".lower()


def load_repos(taskset_dir: Path = TASKSET_DIR) -> dict[str, FixtureRepo]:
    repos = {}
    for repo_dir in sorted((taskset_dir / "repos").iterdir()):
        meta_path = repo_dir / "repo.yaml"
        meta = load_yaml(meta_path)
        where = str(meta_path)
        history = require(meta, "history", list, where)
        repo = FixtureRepo(
            name=repo_dir.name,
            repo=require(meta, "repo", str, where),
            version=str(require(meta, "version", str, where)),
            requirements=tuple(require(meta, "requirements", list, where)),
            history=tuple(history),
            base_commit=require(meta, "base_commit", str, where),
            files_dir=repo_dir / "files",
            leak=meta.get("leak"),
        )
        repos[repo.repo] = repo
    return repos


def _git(repo_dir: Path, *args: str, env: dict | None = None) -> str:
    full_env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, **(env or {})}
    proc = subprocess.run(
        ["git", "-c", "core.autocrlf=false", "-c", "commit.gpgsign=false", *args],
        cwd=repo_dir, env=full_env, capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise SweboardError(f"git {' '.join(args)} in {repo_dir} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def _fixture_files(files_dir: Path) -> list[Path]:
    return sorted(
        p.relative_to(files_dir) for p in files_dir.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc")
    )


def build_repo(repo: FixtureRepo, dest: Path) -> str:
    """Replay the repo's history into `dest` (recreated) and return the head commit."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    _git(dest, "init", "-q", "-b", "main")
    all_files = _fixture_files(repo.files_dir)
    committed: set[Path] = set()
    for i, step in enumerate(repo.history):
        where = f"{repo.files_dir.parent / 'repo.yaml'}: history[{i}]"
        prefixes = require(step, "paths", list, where)
        chosen = [f for f in all_files if any(f == Path(p) or Path(p) in f.parents for p in prefixes)]
        if not chosen:
            raise SweboardError(f"{where}.paths: matches no file under {repo.files_dir}")
        for rel in chosen:
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(repo.files_dir / rel, target)
            target.chmod(0o644)
        committed.update(chosen)
        _git(dest, "add", "--", *[str(f) for f in chosen])
        date = require(step, "date", str, where)
        env = {**_GIT_IDENTITY, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        _git(dest, "commit", "-q", "-m", require(step, "message", str, where), env=env)
    missing = [str(f) for f in all_files if f not in committed]
    if missing:
        raise SweboardError(f"{repo.files_dir.parent / 'repo.yaml'}: history leaves files uncommitted: {missing}")
    if repo.leak:
        _plant_leak(repo, dest)
    return _git(dest, "rev-parse", "HEAD")


def _plant_leak(repo: FixtureRepo, dest: Path) -> None:
    """TEST EQUIPMENT: the task's gold patch committed on a branch and tagged, then main checked out at the
    base again: the image's /testbed reaches the fix through `git log --all`, the branch and the tag, as
    images built from a full clone checked out at the base do."""
    where = f"{repo.files_dir.parent / 'repo.yaml'}: leak"
    leak = repo.leak
    gold = TASKSET_DIR / "tasks" / require(leak, "task", str, where) / "gold.patch"
    date = require(leak, "date", str, where)
    env = {**_GIT_IDENTITY, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    _git(dest, "checkout", "-q", "-b", require(leak, "branch", str, where))
    _git(dest, "apply", str(gold))
    _git(dest, "commit", "-q", "-am", require(leak, "message", str, where), env=env)
    _git(dest, "tag", require(leak, "tag", str, where))
    _git(dest, "checkout", "-q", "main")


def _files_in_patch(patch: str) -> list[str]:
    return [line[len("+++ b/"):] for line in patch.splitlines() if line.startswith("+++ b/")]


def eval_script(base_commit: str, test_patch: str) -> str:
    """An eval script in the shape of SWE-bench 5.x's: reset test files, apply the test
    patch, run the tests between the markers the harness's log parsers look for.

    `python -m pytest` (not bare `pytest`) puts /testbed on sys.path, as the harness
    notes require, for flat layouts; `src/` layouts set pytest's `pythonpath`.
    """
    test_files = " ".join(_files_in_patch(test_patch))
    return "\n".join([
        "#!/bin/bash",
        "set -uxo pipefail",
        "source /opt/venv/bin/activate",
        "cd /testbed",
        "git config --global --add safe.directory /testbed",
        "cd /testbed",
        "git status",
        "git show",
        f"git -c core.fileMode=false diff {base_commit}",
        f"git checkout {base_commit} {test_files}",
        f"git apply -v - <<'{HEREDOC}'",
        test_patch.rstrip("\n"),
        HEREDOC,
        "SWEBOARD_T0=$(date +%s%N)",
        ": '>>>>> Start Test Output'",
        f"python -m pytest -rA -p no:cacheprovider {test_files}",
        ": '>>>>> End Test Output'",
        # after the end marker (and the harness's exit-code capture): the test process's wall time
        'echo "SWEBOARD_TEST_WALL_MS=$(( ($(date +%s%N) - SWEBOARD_T0) / 1000000 ))"',
        f"git checkout {base_commit} {test_files}",
        "",
    ])


def load_rows(taskset_dir: Path = TASKSET_DIR) -> list[dict]:
    """Every task of the set as a SWE-bench 5.x row (plus `split`, dropped on write)."""
    repos = load_repos(taskset_dir)
    rows = []
    for task_dir in sorted((taskset_dir / "tasks").iterdir()):
        meta_path = task_dir / "task.yaml"
        meta = load_yaml(meta_path)
        where = str(meta_path)
        instance_id = require(meta, "instance_id", str, where)
        if instance_id != task_dir.name:
            raise SweboardError(f"{where}.instance_id: expected {task_dir.name!r} (the folder name), got {instance_id!r}")
        repo_name = require(meta, "repo", str, where)
        if repo_name not in repos:
            raise SweboardError(f"{where}.repo: unknown repo {repo_name!r}; expected one of {sorted(repos)}")
        repo = repos[repo_name]
        split = require(meta, "split", str, where)
        if split not in SPLITS:
            raise SweboardError(f"{where}.split: expected one of {list(SPLITS)}, got {split!r}")
        test_patch = (task_dir / "test.patch").read_text(encoding="utf-8")
        rows.append({
            "split": split,
            "repo": repo.repo,
            "instance_id": instance_id,
            "base_commit": repo.base_commit,
            "patch": (task_dir / "gold.patch").read_text(encoding="utf-8"),
            "test_patch": test_patch,
            "problem_statement": (task_dir / "problem.md").read_text(encoding="utf-8"),
            "hints_text": str(meta.get("hints_text") or ""),
            "created_at": require(meta, "created_at", str, where),
            "version": repo.version,
            "FAIL_TO_PASS": json.dumps(require(meta, "FAIL_TO_PASS", list, where)),
            "PASS_TO_PASS": json.dumps(require(meta, "PASS_TO_PASS", list, where)),
            "environment_setup_commit": repo.base_commit,
            "image": image_name(instance_id),
            "eval_script": eval_script(repo.base_commit, test_patch),
            "log_parser": "parse_log_pytest",
            "eval_type": "pass_and_fail",
        })
    return rows


_README = """---
configs:
- config_name: default
  data_files:
{entries}
---
# sweboard offline task set (TEST EQUIPMENT)

Tiny repositories written by the sweboard project, in the SWE-bench 5.x schema. They exist
to exercise the pipeline offline. Scores on them are never a model's result.
"""


def write_dataset(dest: Path, taskset_dir: Path = TASKSET_DIR) -> Path:
    """Write the task set as a HuggingFace-layout dataset folder and return it."""
    rows = load_rows(taskset_dir)
    (dest / "data").mkdir(parents=True, exist_ok=True)
    entries = []
    for split in SPLITS:
        rel = f"data/{split}-00000-of-00001.jsonl"
        lines = [json.dumps({c: r[c] for c in COLUMNS}, sort_keys=True) for r in rows if r["split"] == split]
        _write_if_changed(dest / rel, "\n".join(lines) + "\n")
        entries.append(f"  - split: {split}\n    path: {rel}")
    _write_if_changed(dest / "README.md", _README.format(entries="\n".join(entries)))
    return dest


def _write_if_changed(path: Path, text: str) -> None:
    """Atomic and idempotent, so concurrent processes never see a half-written file."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def offline_dataset_dir() -> Path:
    """The bundled dataset, (re)written into the machine cache; cheap and deterministic."""
    return write_dataset(cache_dir() / "offline" / "dataset")


def build_repos(dest_root: Path | None = None, taskset_dir: Path = TASKSET_DIR) -> dict[str, Path]:
    """Build every fixture repo and check its head against the recorded `base_commit`."""
    dest_root = dest_root or cache_dir() / "offline" / "repos"
    # Two batches starting together must not delete each other's half-built repos.
    with file_lock(dest_root.parent / f".{dest_root.name}.lock"):
        return _build_repos_locked(dest_root, taskset_dir)


def _build_repos_locked(dest_root: Path, taskset_dir: Path) -> dict[str, Path]:
    built = {}
    for repo in load_repos(taskset_dir).values():
        head = build_repo(repo, dest_root / repo.name)
        if head != repo.base_commit:
            raise SweboardError(
                f"{repo.files_dir.parent / 'repo.yaml'}.base_commit: recorded {repo.base_commit}, "
                f"but replaying the history gives {head}; the fixture files or history changed"
            )
        built[repo.repo] = dest_root / repo.name
    return built
