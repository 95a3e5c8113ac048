"""Disk before pulls (issue 29): the slice's missing images against free space, and a full disk named."""

import pytest

from sweboard import image_space
from sweboard.errors import SweboardError

GIB = 2 ** 30


def test_missing_images_that_do_not_fit_stop_the_preflight_with_one_line():
    present = {"a": {"id": "sha256:1", "repo_digests": [], "size": 5 * GIB}}
    proj = image_space.projection(["a", "b", "c", "d"], size_of=lambda i: {"b": 40 * GIB, "c": 50 * GIB}.get(i),
                                  facts=present.get)
    assert proj == {"images": 4, "missing": 3, "bytes": 90 * GIB, "unknown": ["d"]}
    with pytest.raises(SweboardError, match=r"^disk: 3 task images to pull need at least 90.0 GiB .* /var/lib/docker "
                                            r"has 80.0 GiB free"):
        image_space.check_fits(proj, 80 * GIB, "/var/lib/docker")
    line = image_space.check_fits(proj, 200 * GIB, "/var/lib/docker")
    assert line == "disk: 3 images to pull, at least 90.0 GiB, 200.0 GiB free; 1 sizes unknown (no registry answer)"
    assert image_space.check_fits({"images": 2, "missing": 0, "bytes": 0, "unknown": []}, None, None) \
        == "disk: all 2 task images present"
    assert "free space unknown" in image_space.check_fits(proj, None, None)


@pytest.mark.parametrize("stderr, full", [
    ("write /var/lib/docker/tmp/x: no space left on device", True),
    ("failed to register layer: Error processing tar file(exit status 1): write /x: No space left on device", True),
    ("manifest unknown", False), ("", False)])
def test_a_pull_that_fills_the_disk_is_named_as_infrastructure(monkeypatch, stderr, full):
    import subprocess

    from sweboard import task_images

    monkeypatch.setattr("sweboard.dockerutil.image_labels", lambda image: None)
    monkeypatch.setattr("sweboard.dockerutil.docker",
                        lambda *a, **k: subprocess.CompletedProcess(a, 1, "", stderr))
    problem = task_images.image_problem("example/repo:tag")
    assert ("disk full on this host" in problem) == full, problem
