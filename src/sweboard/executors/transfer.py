"""An attempt folder (or an evaluator's outputs) carried from a worker back to the controller.

The folder was written by an agent whose tools ran as root in a task container, so what comes
back is treated as untrusted data: regular files and folders only (no links, devices or
fifos), names that stay inside the target, nothing overwritten that the controller wrote itself
(the gateway's `calls.jsonl`), and files created with the controller's own modes.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path, PurePosixPath

from sweboard.errors import SweboardError

MAX_BYTES = 512 * 1024 * 1024  # an attempt folder is trajectories and logs: more is not an attempt's


def pack(folder: Path, skip: tuple[str, ...] = ()) -> bytes:
    """Regular files and folders under `folder` as a gzip tar (links and special files left out)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder).as_posix()
            if rel.split("/")[0] in skip or path.is_symlink() or not (path.is_file() or path.is_dir()):
                continue
            tar.add(path, arcname=rel, recursive=False)
    return buf.getvalue()


def unpack(data: bytes, target: Path) -> list[str]:
    """Write the archive's regular files under `target`; returns the names skipped (links, escapes,
    files that already exist)."""
    if len(data) > MAX_BYTES:
        raise SweboardError(f"{target}: the worker sent {len(data)} bytes; more than {MAX_BYTES} is refused")
    target.mkdir(parents=True, exist_ok=True)
    skipped = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            name = PurePosixPath(member.name)
            if name.is_absolute() or ".." in name.parts or not name.parts or not (member.isfile() or member.isdir()):
                skipped.append(member.name)
                continue
            dest = target.joinpath(*name.parts)
            if member.isdir():
                _mkdirs(target, name.parts)
                continue
            _mkdirs(target, name.parts[:-1])
            try:
                fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            except FileExistsError:
                skipped.append(member.name)
                continue
            with os.fdopen(fd, "wb") as out, tar.extractfile(member) as src:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
    return skipped


def _mkdirs(target: Path, parts: tuple[str, ...]) -> None:
    here = target
    for part in parts:
        here = here / part
        if here.is_symlink():
            raise SweboardError(f"{here}: a link where a folder was expected; refusing to write through it")
        here.mkdir(exist_ok=True)
