"""Disk before pulls: what the slice's missing task images will take against the engine's free space,
and each image's digest and id as the engine reports them.

Why: a Lite run's images are about 120 GiB; a pull that fills the disk mid-run fails attempts one
by one, each looking like any other failure. So the preflight projects the bytes still to pull
(the registry's manifest sizes when the engine can reach it; local sizes for what is present) and
stops with one line when they do not fit, and a pull that fails for lack of space is named as
infrastructure (`disk full`), never left to look like a model's failure.
"""

from __future__ import annotations

import json
import shutil

from sweboard.dockerutil import docker

DISK_FULL = ("no space left on device", "disk quota exceeded", "not enough space")


def is_disk_full(message: str) -> bool:
    text = (message or "").lower()
    return any(m in text for m in DISK_FULL)


def image_facts(image: str) -> dict | None:
    """{id, repo_digests, size} of a local image, or None when it is not on this engine."""
    proc = docker("image", "inspect", "--format", "{{.Id}}\t{{json .RepoDigests}}\t{{.Size}}", image,
                  check=False, timeout=60)
    if proc.returncode != 0 or not proc.stdout.strip():
        return None
    ident, digests, size = (proc.stdout.strip().split("\t") + ["", "", ""])[:3]
    try:
        repo_digests = [d for d in json.loads(digests or "[]") if isinstance(d, str)][:8]
    except ValueError:
        repo_digests = []
    return {"id": ident, "repo_digests": repo_digests, "size": int(size) if size.isdigit() else None}


def registry_size(image: str) -> int | None:
    """Compressed bytes of an image's layers from its registry manifest (None offline or unknown)."""
    proc = docker("manifest", "inspect", "-v", image, check=False, timeout=20)
    if proc.returncode != 0:
        return None
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        return None
    entries = data if isinstance(data, list) else [data]
    for entry in entries:  # the linux/amd64 entry of a list, or the one manifest
        manifest = (entry or {}).get("SchemaV2Manifest") or (entry or {}).get("OCIManifest") or {}
        layers = manifest.get("layers")
        if isinstance(layers, list) and layers:
            return sum(int(layer.get("size") or 0) for layer in layers if isinstance(layer, dict))
    return None


def free_bytes() -> tuple[int | None, str | None]:
    """(free bytes, path) under the engine's data root, or (None, None) when it cannot be told."""
    proc = docker("info", "--format", "{{.DockerRootDir}}", check=False, timeout=30)
    root = proc.stdout.strip() if proc.returncode == 0 else ""
    if not root:
        return None, None
    try:
        return shutil.disk_usage(root).free, root
    except OSError:
        return None, root


def projection(images: list[str], size_of=registry_size, facts=image_facts) -> dict:
    """Bytes still to pull for `images` (present ones need none), how many sizes are unknown."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:  # a Lite slice has ~300 images: never one by one
        missing = [i for i, f in zip(images, pool.map(facts, images)) if f is None]
        sizes = dict(zip(missing, pool.map(size_of, missing)))
    return {"images": len(images), "missing": len(missing), "bytes": sum(s for s in sizes.values() if s),
            "unknown": sorted(i for i, s in sizes.items() if s is None)}


def check_fits(proj: dict, free: int | None, root: str | None, margin: float = 1.1) -> str:
    """The preflight's line about disk; raises when the known bytes to pull (compressed layers, plus
    10 %: they unpack larger, so this is a floor) exceed the free space under the engine's root."""
    from sweboard.errors import SweboardError

    gib = lambda b: f"{b / 2 ** 30:.1f} GiB"  # noqa: E731
    if not proj["missing"]:
        return f"disk: all {proj['images']} task images present"
    if free is None:
        return f"disk: {proj['missing']} images to pull ({gib(proj['bytes'])} known); free space unknown"
    if proj["bytes"] * margin > free:
        raise SweboardError(f"disk: {proj['missing']} task images to pull need at least {gib(proj['bytes'])} "
                            f"(compressed; more unpacked) and {root} has {gib(free)} free; free space "
                            "(docker image prune) or use a larger disk, then rerun")
    unknown = f"; {len(proj['unknown'])} sizes unknown (no registry answer)" if proj["unknown"] else ""
    return f"disk: {proj['missing']} images to pull, at least {gib(proj['bytes'])}, {gib(free)} free{unknown}"
