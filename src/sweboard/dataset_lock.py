"""`config/dataset.lock`: the one way any part of sweboard reads a dataset.

Why: a leaderboard is only comparable across runs if every run graded the same rows.
The lock pins a HuggingFace dataset to a commit revision and the sha256 of each data file;
every load resolves that exact revision (from the local HF cache when offline), verifies
the hashes, and refuses on mismatch. The evaluator and agents get the verified local rows,
never "latest". The bundled offline task set has its own lock in the same format.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sweboard import __version__
from sweboard.errors import SweboardError
from sweboard.yamlio import load_yaml, require

DEFAULT_REPO_ID = "SWE-bench/SWE-bench_Lite"
# The revision public projects pin for the copy that carries the 5.x columns.
KNOWN_GOOD_REVISION = "b0dde1093fe417d83b7184254edf8199c1f0dff5"
REQUIRED_COLUMNS = ("instance_id", "repo", "base_commit", "patch", "test_patch", "problem_statement",
                    "FAIL_TO_PASS", "PASS_TO_PASS", "version", "image", "eval_script", "log_parser", "eval_type")
SOURCES = ("huggingface", "bundled")
_SHA = re.compile(r"^[0-9a-f]{40}$")
DATA_SUFFIXES = (".parquet", ".jsonl", ".json")


@dataclass
class DatasetLock:
    path: Path
    repo_id: str
    source: str  # "huggingface" | "bundled"
    revision: str
    retrieved_at: str
    files: dict[str, str]  # relative path -> sha256
    rows: dict[str, int]  # split -> row count
    tools: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "repo_id": self.repo_id,
            "source": self.source,
            "revision": self.revision,
            "retrieved_at": self.retrieved_at,
            "files": {k: {"sha256": v} for k, v in sorted(self.files.items())},
            "rows": dict(sorted(self.rows.items())),
            "tools": self.tools,
        }

    def summary(self) -> dict:
        """What a manifest records about the data a run used."""
        return {"path": str(self.path), **self.to_dict()}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _tool_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "sweboard": __version__}
    for pkg in ("huggingface_hub", "datasets", "swebench"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def data_files(root: Path) -> list[str]:
    rels = (p.relative_to(root) for p in root.rglob("*") if p.is_file() and p.suffix in DATA_SUFFIXES)
    return sorted(str(r) for r in rels if not any(part.startswith(".") for part in r.parts))


def split_of(rel: str) -> str:
    """`data/dev-00000-of-00001.parquet` -> `dev` (the HF layout SWE-bench uses)."""
    return Path(rel).name.split("-")[0].split(".")[0]


def read_rows(path: Path) -> list[dict]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def read_lock(path: Path) -> DatasetLock:
    data = load_yaml(path)
    where = str(path)
    source = require(data, "source", str, where)
    if source not in SOURCES:
        raise SweboardError(f"{where}.source: expected one of {list(SOURCES)}, got {source!r}")
    files = require(data, "files", dict, where)
    return DatasetLock(
        path=path,
        repo_id=require(data, "repo_id", str, where),
        source=source,
        revision=require(data, "revision", str, where),
        retrieved_at=str(require(data, "retrieved_at", str, where)),
        files={k: require(v, "sha256", str, f"{where}.files.{k}") for k, v in files.items()},
        rows={k: int(v) for k, v in require(data, "rows", dict, where).items()},
        tools=dict(data.get("tools") or {}),
    )


def write_lock(lock: DatasetLock) -> None:
    header = ("# Written by tools/update_dataset_lock.py. Every dataset load verifies these hashes;\n"
              "# change it only on purpose (a deliberate dataset update), never by hand.\n")
    lock.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = lock.path.with_suffix(lock.path.suffix + ".tmp")
    tmp.write_text(header + yaml.safe_dump(lock.to_dict(), sort_keys=False), encoding="utf-8")
    tmp.replace(lock.path)


# --- resolving a local copy -------------------------------------------------------------

def hf_snapshot(repo_id: str, revision: str, cached_only: bool = False) -> tuple[Path, str]:
    """Download (or find in the HF cache, e.g. with HF_HUB_OFFLINE=1) one revision.

    Returns the local folder and the commit it resolved to: `snapshot_download` returns
    `.../snapshots/<commit>`, so a branch name like `main` is pinned here. `cached_only` looks
    in the local cache alone (no network round trip, no retries).
    """
    from huggingface_hub import snapshot_download

    try:
        local = Path(snapshot_download(repo_id=repo_id, repo_type="dataset", revision=revision,
                                       local_files_only=cached_only))
    except Exception as exc:  # network, auth, missing cache entry: all one line for the user, whole
        detail = " ".join(str(exc).split())
        raise SweboardError(
            f"dataset {repo_id}@{revision}: could not be resolved ({type(exc).__name__}: {detail}); "
            "check network access to HuggingFace, or set HF_HUB_OFFLINE=1 with a populated HF cache"
        ) from None
    commit = local.name
    if not _SHA.match(commit):
        raise SweboardError(f"dataset {repo_id}@{revision}: resolved to {local}, which is not a commit snapshot")
    return local, commit


def local_copy(lock: DatasetLock) -> Path:
    if lock.source == "bundled":
        from sweboard.testbench.taskset import offline_dataset_dir

        return offline_dataset_dir()
    try:  # a lock pins a full commit: when the cache has it, no network round trip is needed
        local, commit = hf_snapshot(lock.repo_id, lock.revision, cached_only=True)
    except SweboardError:
        local, commit = hf_snapshot(lock.repo_id, lock.revision)
    if commit != lock.revision:
        raise SweboardError(f"{lock.path}.revision: pinned {lock.revision} but HuggingFace resolved {commit}")
    return local


def verify(lock: DatasetLock, root: Path) -> None:
    for rel, expected in sorted(lock.files.items()):
        path = root / rel
        if not path.is_file():
            raise SweboardError(f"{lock.path}.files: {rel} is missing from {root}")
        actual = sha256_file(path)
        if actual != expected:
            raise SweboardError(
                f"{lock.path}.files.{rel}: sha256 mismatch (locked {expected[:12]}…, found {actual[:12]}…); "
                "the data changed under the pinned revision; refusing to use it"
            )


def create_lock(lock_path: Path, repo_id: str, revision: str, source: str = "huggingface") -> DatasetLock:
    """Resolve, download and fingerprint a dataset revision into a lock (not yet written)."""
    if source == "bundled":
        from sweboard.testbench.taskset import offline_dataset_dir

        root = offline_dataset_dir()
        # the bundled revision is a content hash, like a commit id for the task-set files
        h = hashlib.sha1()
        for rel in data_files(root):
            h.update(rel.encode() + b"\0" + (root / rel).read_bytes())
        commit = h.hexdigest()
    else:
        root, commit = hf_snapshot(repo_id, revision)
    files = {rel: sha256_file(root / rel) for rel in data_files(root)}
    if not files:
        raise SweboardError(f"dataset {repo_id}@{commit}: no data files ({', '.join(DATA_SUFFIXES)}) in {root}")
    rows: dict[str, int] = {}
    for rel in files:
        split_rows = read_rows(root / rel)
        missing = [c for c in REQUIRED_COLUMNS if split_rows and c not in split_rows[0]]
        if missing:
            raise SweboardError(
                f"dataset {repo_id}@{commit}: {rel} lacks the SWE-bench 5.x columns {missing}; "
                f"use {DEFAULT_REPO_ID} (e.g. revision {KNOWN_GOOD_REVISION}), not the older princeton-nlp copy"
            )
        rows[split_of(rel)] = rows.get(split_of(rel), 0) + len(split_rows)
    return DatasetLock(
        path=lock_path, repo_id=repo_id, source=source, revision=commit,
        retrieved_at=dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        files=files, rows=rows, tools=_tool_versions(),
    )


def load_locked_rows(lock_path: Path, split: str, instance_ids: list[str] | None = None) -> tuple[DatasetLock, list[dict]]:
    """Rows of one split through the lock: pinned revision, verified hashes, known ids only."""
    lock = read_lock(lock_path)
    if split not in lock.rows:
        raise SweboardError(f"{lock_path}.rows: no split {split!r}; the lock has {sorted(lock.rows)}")
    root = local_copy(lock)
    verify(lock, root)
    rows = []
    for rel in sorted(lock.files):
        if split_of(rel) == split:
            rows.extend(read_rows(root / rel))
    if instance_ids is not None:
        by_id = {r["instance_id"]: r for r in rows}
        unknown = [i for i in instance_ids if i not in by_id]
        if unknown:
            raise SweboardError(f"instance ids not in {lock.repo_id}@{lock.revision[:12]} split {split}: {unknown}")
        rows = [by_id[i] for i in instance_ids]
    return lock, rows
