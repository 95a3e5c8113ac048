"""The dataset lock against a pre-populated HuggingFace cache (HF_HUB_OFFLINE=1), through the CLI."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sweboard.dataset_lock import load_locked_rows, read_lock
from sweboard.errors import SweboardError
from sweboard.testbench import taskset

ROOT = Path(__file__).resolve().parents[1]
COMMIT = "0123456789abcdef0123456789abcdef01234567"
REPO = "example-org/SWE-bench_Lite-copy"


def make_hf_cache(cache: Path, rows_by_split: dict) -> Path:
    """The layout huggingface_hub reads offline: refs/main -> snapshots/<commit>/..."""
    repo_dir = cache / f"datasets--{REPO.replace('/', '--')}"
    snap = repo_dir / "snapshots" / COMMIT
    (snap / "data").mkdir(parents=True)
    for split, rows in rows_by_split.items():
        (snap / "data" / f"{split}-00000-of-00001.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(COMMIT)
    return snap


def lock_cli(tmp_path, cache, *args):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "HF_HOME": str(tmp_path / "hf-home"),
           "SWEBOARD_HOME": str(tmp_path / "home")}
    return subprocess.run([sys.executable, str(ROOT / "tools" / "update_dataset_lock.py"), "--repo-id", REPO, *args],
                          capture_output=True, text=True, env=env)


@pytest.fixture
def rows():
    all_rows = taskset.load_rows()
    return {s: [{k: r[k] for k in taskset.COLUMNS} for r in all_rows if r["split"] == s] for s in ("dev", "test")}


def test_resolves_branch_to_commit_and_fingerprints_files(tmp_path, rows, monkeypatch):
    cache = tmp_path / "hf-cache"
    snap = make_hf_cache(cache, rows)
    lock_path = tmp_path / "dataset.lock"
    proc = lock_cli(tmp_path, cache, "--revision", "main", "--lock", str(lock_path))
    assert proc.returncode == 0, proc.stderr
    data = yaml.safe_load(lock_path.read_text())
    assert data["revision"] == COMMIT and data["repo_id"] == REPO and data["source"] == "huggingface"
    assert data["rows"] == {"dev": len(rows["dev"]), "test": len(rows["test"])}
    assert set(data["files"]) == {"data/dev-00000-of-00001.jsonl", "data/test-00000-of-00001.jsonl"}
    assert data["retrieved_at"].endswith("Z") and data["tools"]["huggingface_hub"]

    # Loading goes through the lock: pinned revision, verified hashes.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True, raising=False)
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(cache), raising=False)
    lock, got = load_locked_rows(lock_path, "dev")
    assert [r["instance_id"] for r in got] == [r["instance_id"] for r in rows["dev"]]

    # A changed data file under the same revision is refused.
    target = snap / "data" / "dev-00000-of-00001.jsonl"
    target.write_text(target.read_text().replace("clamp", "clamp!"))
    with pytest.raises(SweboardError, match="sha256 mismatch"):
        load_locked_rows(lock_path, "dev")


def test_refuses_to_move_an_existing_lock_without_force(tmp_path, rows):
    cache = tmp_path / "hf-cache"
    make_hf_cache(cache, rows)
    lock_path = tmp_path / "dataset.lock"
    lock_path.write_text(yaml.safe_dump({"repo_id": REPO, "source": "huggingface", "revision": "f" * 40,
                                         "retrieved_at": "2026-01-01T00:00:00Z", "files": {}, "rows": {"dev": 1}}))
    before = lock_path.read_text()
    proc = lock_cli(tmp_path, cache, "--revision", "main", "--lock", str(lock_path))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--force" in proc.stderr
    assert lock_path.read_text() == before


def test_rejects_a_copy_without_the_5x_columns(tmp_path, rows):
    old_style = {s: [{k: v for k, v in r.items() if k not in ("image", "eval_script", "log_parser", "eval_type")}
                     for r in rs] for s, rs in rows.items()}
    cache = tmp_path / "hf-cache"
    make_hf_cache(cache, old_style)
    proc = lock_cli(tmp_path, cache, "--revision", "main", "--lock", str(tmp_path / "x.lock"))
    assert proc.returncode == 2
    assert "5.x columns" in proc.stderr and "SWE-bench/SWE-bench_Lite" in proc.stderr
    assert not (tmp_path / "x.lock").exists()


def test_unreachable_dataset_is_one_clear_line(tmp_path):
    proc = lock_cli(tmp_path, tmp_path / "empty-cache", "--revision", "main", "--lock", str(tmp_path / "y.lock"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: dataset example-org/SWE-bench_Lite-copy@main: could not be resolved")
    assert proc.stderr.count("\n") == 1


def test_bundled_offline_lock_matches_the_task_set():
    lock = read_lock(ROOT / "config" / "dataset.offline.lock")
    assert lock.source == "bundled"
    _, dev = load_locked_rows(ROOT / "config" / "dataset.offline.lock", "dev")
    assert len(dev) == lock.rows["dev"]


def test_unknown_instance_ids_are_listed():
    with pytest.raises(SweboardError, match="nope__nope-1"):
        load_locked_rows(ROOT / "config" / "dataset.offline.lock", "dev", ["nope__nope-1"])


def test_a_pinned_revision_in_the_cache_loads_without_a_network_round_trip(tmp_path, rows):
    """No HF_HUB_OFFLINE; the hub endpoint is a listener on 127.0.0.1 that counts connections: none may come."""
    import socket
    import threading

    cache = tmp_path / "hf-cache"
    make_hf_cache(cache, rows)
    lock_path = tmp_path / "dataset.lock"
    assert lock_cli(tmp_path, cache, "--revision", "main", "--lock", str(lock_path)).returncode == 0
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    connections, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                connections.append(1)
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    script = ("import sys; from pathlib import Path; from sweboard.dataset_lock import load_locked_rows; "
              "print(len(load_locked_rows(Path(sys.argv[1]), 'dev')[1]))")
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env.update({"HF_HUB_CACHE": str(cache), "HF_HOME": str(tmp_path / "hf-home"),
                "HF_ENDPOINT": f"http://127.0.0.1:{listener.getsockname()[1]}"})
    try:
        proc = subprocess.run([sys.executable, "-c", script, str(lock_path)], capture_output=True, text=True, env=env,
                              timeout=120)
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) == len(rows["dev"])
    assert connections == [], "the load asked the hub although the pinned revision was cached"


def test_hub_errors_are_shown_whole(tmp_path):
    proc = lock_cli(tmp_path, tmp_path / "empty-cache", "--revision", "main", "--lock", str(tmp_path / "y.lock"))
    assert proc.returncode == 2
    assert "HF_HUB_OFFLINE=1 with a populated HF cache" in proc.stderr, "the message is cut"
