"""Task images made present on each worker node before any attempt's clock, checked by image id.

Each worker is a Docker host of its own, so an image can be on the controller's engine and missing on a
node's. How a node gets it is what a real cluster does:

- an image with a registry digest (`RepoDigests`) is pulled by the node itself (`task_images.py`), the
  same digest everywhere;
- an image built here and never pushed (the offline task set, faithful local images) has no registry to
  come from: the controller `docker save`s it once, hands the archive to each node that lacks it through
  Ray's object store in 64 MiB pieces, and the node `docker load`s it.

Either way the node's image id must equal the controller's afterwards: a node holding another image under
the same name is named and left out of the run (`RayExecutor.prepare`), never allowed to grade or run
attempts on different content. What a node answers is untrusted data: only `sha256:<64 hex>` ids are read.
"""

from __future__ import annotations

import re
import subprocess

from sweboard.errors import SweboardError

CHUNK = 64 * 2**20
LIMIT = 64 * 2**30  # one archive's bytes at most: a bigger slice belongs on a registry
IMAGE_ID = re.compile(r"sha256:[0-9a-f]{64}")


def controller_images(images: list[str]) -> dict[str, tuple[str | None, bool]]:
    """image -> (its id on the controller's engine or None, whether a registry knows it by digest)."""
    from sweboard.dockerutil import docker

    out = {}
    for image in images:
        proc = docker("image", "inspect", "--format", "{{.Id}} {{len .RepoDigests}}", image, check=False, timeout=60)
        parts = proc.stdout.split() if proc.returncode == 0 else []
        out[image] = (parts[0], parts[1] != "0") if len(parts) == 2 and IMAGE_ID.fullmatch(parts[0]) else (None, False)
    return out


def node_image_ids(images: list[str]) -> dict[str, str | None]:
    """On a node: each image's id on this node's engine (None when absent)."""
    from sweboard.dockerutil import image_id

    return {image: image_id(image) for image in images}


def save_in_pieces(ray, images: list[str]) -> tuple[list, int]:
    """`docker save` of `images` on the controller's engine, put into Ray's object store piece by piece."""
    proc = subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    refs, size = [], 0
    try:
        while True:
            piece = proc.stdout.read(CHUNK)
            if not piece:
                break
            size += len(piece)
            if size > LIMIT:
                proc.kill()
                raise SweboardError(f"the task images' archive exceeds {LIMIT // 2**30} GiB: push them to a registry "
                                    "the nodes can pull from")
            refs.append(ray.put(piece))
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode(errors="replace").strip()
        proc.stderr.close()
        code = proc.wait()
    if code != 0:
        raise SweboardError(f"docker save failed on the controller: {err.splitlines()[-1] if err else 'exit ' + str(code)}")
    return refs, size


def load_pieces(pieces: list, images: list[str]) -> dict[str, str | None]:
    """On a node: `docker load` the archive from its pieces (fetched one at a time); each image's id after."""
    import ray

    proc = subprocess.Popen(["docker", "load", "--quiet"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        for ref in pieces:
            proc.stdin.write(ray.get(ref))
        proc.stdin.close()
    except BrokenPipeError:
        pass
    err = proc.stderr.read().decode(errors="replace").strip()
    if proc.wait() != 0:
        raise SweboardError(f"docker load failed: {err.splitlines()[-1] if err else 'exit ' + str(proc.returncode)}")
    return node_image_ids(images)


def checked_ids(answer, images: list[str]) -> dict[str, str | None]:
    """A node's {image: id} answer as data: an id that is not `sha256:<64 hex>` counts as absent."""
    answer = answer if isinstance(answer, dict) else {}
    return {i: answer[i] if isinstance(answer.get(i), str) and IMAGE_ID.fullmatch(answer[i]) else None
            for i in images}


def describe(count: int, size: int, seconds: float) -> str:
    return f"{count} image(s) loaded from the controller's engine ({size / 2**20:.0f} MiB, {seconds:.0f} s)"
