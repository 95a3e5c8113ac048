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
import zlib
from pathlib import Path, PurePosixPath

from sweboard.errors import SweboardError

MAX_BYTES = 64 * 1024 * 1024  # the archive as sent (gzip)
MAX_UNPACKED = 512 * 1024 * 1024  # an attempt folder is trajectories and logs: more is not an attempt's
MAX_FILE = 256 * 1024 * 1024  # one file
MAX_MEMBERS = 20_000  # files and folders
# names only the controller writes in an attempt folder: a worker's file (or folder) by that name is dropped
CONTROLLER_FILES = ("record.json", "verdict.json", "calls.jsonl", "invocation.json")


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
    files that already exist, names only the controller writes). Bounded as sent, in members, per file
    and unpacked in all (a small gzip can inflate to anything): past a bound it is refused whole."""
    if len(data) > MAX_BYTES:
        raise SweboardError(f"{target}: the worker sent {len(data)} bytes; more than {MAX_BYTES} is refused")
    target.mkdir(parents=True, exist_ok=True)
    skipped = []
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise SweboardError(f"{target}: the worker's archive is not a gzip tar ({type(exc).__name__})") from None
    with tar:
        members = _bounded_members(tar, target)
        for member in members:
            name = PurePosixPath(member.name)
            if name.is_absolute() or ".." in name.parts or not name.parts or not (member.isfile() or member.isdir()) \
                    or name.parts[0] in CONTROLLER_FILES or name.parts[0].startswith("verdict."):
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


def _bounded_members(tar: tarfile.TarFile, target: Path) -> list[tarfile.TarInfo]:
    """The archive's members, read with its headers' sizes checked before any byte is written."""
    members, total = [], 0
    try:
        for member in tar:
            members.append(member)
            if len(members) > MAX_MEMBERS:
                raise SweboardError(f"{target}: the worker's archive has more than {MAX_MEMBERS} members; refused")
            if member.isfile():
                if member.size > MAX_FILE:
                    raise SweboardError(f"{target}: {member.name[:100]} is {member.size} bytes unpacked "
                                        f"(more than {MAX_FILE}); the archive is refused")
                total += member.size
                if total > MAX_UNPACKED:
                    raise SweboardError(f"{target}: the worker's archive unpacks to more than {MAX_UNPACKED} bytes; "
                                        "refused")
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise SweboardError(f"{target}: the worker's archive is damaged ({type(exc).__name__})") from None
    return members


def node_facts(node) -> dict:
    """Where a worker says an attempt ran, kept as data: known keys, short printable strings, numbers."""
    if not isinstance(node, dict):
        return {"ray_node_id": None}
    out = {}
    for key in ("host", "docker_engine_id", "docker_host", "docker_root_dir", "image_id", "ray_node_id"):
        value = node.get(key)
        out[key] = "".join(c for c in value[:200] if c.isprintable()) if isinstance(value, str) else None
    out["pid"] = node.get("pid") if isinstance(node.get("pid"), int) and not isinstance(node.get("pid"), bool) else None
    span = node.get("task_epoch")
    if isinstance(span, (list, tuple)) and len(span) == 2 and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in span):
        out["task_epoch"] = [float(span[0]), float(span[1])]
    return out


def _mkdirs(target: Path, parts: tuple[str, ...]) -> None:
    here = target
    for part in parts:
        here = here / part
        if here.is_symlink():
            raise SweboardError(f"{here}: a link where a folder was expected; refusing to write through it")
        here.mkdir(exist_ok=True)
