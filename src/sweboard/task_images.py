"""Task images present where attempts run, before any attempt's clock: a pull is never the model's time.

An image still missing makes its attempts infrastructure errors, never the model's timeouts.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sweboard.testbench.taskset import IMAGE_NAMESPACE


def ensure_images(rows: list[dict], log=print, parallel: int = 3) -> dict[str, str | None]:
    """Every row's image present before the batch's first attempt: inspected, and on a real host pulled
    once (a few at a time, with progress). Returns image -> problem (None when ready); an image still
    missing makes its attempts infrastructure errors, never the model's timeouts."""
    images = sorted({r["image"] for r in rows})
    problems: dict[str, str | None] = {}
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        for done, (image, problem) in enumerate(zip(images, pool.map(image_problem, images)), start=1):
            problems[image] = problem
            if problem:
                log(f"  image {done}/{len(images)} NOT READY: {problem}")
    ready = sum(1 for p in problems.values() if p is None)
    if ready < len(images):
        log(f"  images: {ready} of {len(images)} ready; attempts on the others are infrastructure errors")
    return problems


def image_problem(image: str) -> str | None:
    """Why the task image cannot be used (absent locally and not pullable), or None if it is there."""
    from sweboard.dockerutil import docker, image_labels

    if image_labels(image) is not None:
        return None
    if image.startswith(f"{IMAGE_NAMESPACE}/"):  # built here, never on a registry: nothing to pull
        return f"task image {image} is not present locally (tools/build_offline_images.py builds it)"
    pull = docker("pull", image, check=False, timeout=1800)
    if pull.returncode == 0:
        return None
    err = " ".join((pull.stderr or "").strip().splitlines()[-2:])
    from sweboard.image_space import is_disk_full

    if is_disk_full(pull.stderr or ""):  # infrastructure, named: never a model's failure
        return f"task image {image} could not be pulled: disk full on this host ({err}); free space, then --resume"
    return f"task image {image} is not present locally and could not be pulled: {err or 'exit ' + str(pull.returncode)}"
