"""Setting up: the dataset lock and the offline task images."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sweboard.cli.command import command
from sweboard.errors import SweboardError


@command
def update_dataset_lock(argv=None):
    from sweboard import dataset_lock as dl
    from sweboard.paths import config_dir

    p = argparse.ArgumentParser(prog="update_dataset_lock.py", description=(
        "Resolve a HuggingFace dataset to a commit revision, download exactly that revision and write "
        "its fingerprint (revision, UTC date, sha256 per data file, rows per split, tool versions) to a lock file."))
    p.add_argument("--repo-id", default=dl.DEFAULT_REPO_ID, help=f"HF dataset (default {dl.DEFAULT_REPO_ID})")
    p.add_argument("--revision", default=dl.KNOWN_GOOD_REVISION,
                   help=f"branch, tag or commit to pin (default {dl.KNOWN_GOOD_REVISION[:12]}…, the 5.x copy)")
    p.add_argument("--lock", type=Path, default=None, help="lock file to write (default config/dataset.lock)")
    p.add_argument("--offline", action="store_true", help="lock the bundled offline task set into config/dataset.offline.lock")
    p.add_argument("--force", action="store_true", help="replace an existing lock that pins a different revision")
    p.add_argument("--dry-run", action="store_true", help="resolve and print the lock without writing it")
    args = p.parse_args(argv)
    if args.offline:
        path = args.lock or config_dir() / "dataset.offline.lock"
        lock = dl.create_lock(path, "sweboard/offline-taskset", "bundled", source="bundled")
    else:
        path = args.lock or config_dir() / "dataset.lock"
        lock = dl.create_lock(path, args.repo_id, args.revision)
    if path.exists():
        old = dl.read_lock(path)
        if old.revision == lock.revision and old.files == lock.files:
            print(f"{path}: already pins {old.repo_id}@{old.revision} (retrieved {old.retrieved_at}); unchanged")
            return 0
        if not args.force:
            raise SweboardError(f"{path}: pins {old.repo_id}@{old.revision[:12]}, resolved {lock.repo_id}@{lock.revision[:12]}; "
                                "pass --force to update the lock deliberately")
    if args.dry_run:
        print(json.dumps(lock.to_dict(), indent=2))
        return 0
    dl.write_lock(lock)
    print(f"{path}: pinned {lock.repo_id}@{lock.revision} rows={lock.rows}")
    return 0


@command
def build_offline_images(argv=None):
    from sweboard.testbench import images, taskset

    p = argparse.ArgumentParser(prog="build_offline_images.py", description=(
        "Build the offline task images (debootstrap base, per-repo env, per-task image); skips what exists."))
    p.add_argument("instance_ids", nargs="*", help="offline instance ids (default: all)")
    p.add_argument("--dry-run", action="store_true", help="list the image tags and whether each exists")
    args = p.parse_args(argv)
    if args.dry_run:
        from sweboard.dockerutil import image_labels

        for row in taskset.load_rows():
            if not args.instance_ids or row["instance_id"] in args.instance_ids:
                print(f"{'present' if image_labels(row['image']) is not None else 'missing':8} {row['image']}")
        return 0
    events = images.build_all(args.instance_ids or None)
    built = [e for e in events if e.action == "built"]
    print(f"{len(built)} built, {len(events) - len(built)} cached, {sum(e.seconds for e in events):.1f}s")
    return 0
