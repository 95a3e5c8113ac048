"""SWE-agent's own images, derived from task images that lack swe-rex and its tools (as real
SWE-bench images do; the bundled offline images are built the same way)."""

import subprocess

import pytest

pytestmark = pytest.mark.docker


def _has(image: str, script: str) -> bool:
    return subprocess.run(["docker", "run", "--rm", "--network", "none", "--entrypoint", "/bin/bash", image, "-ic",
                           script], capture_output=True, timeout=120).returncode == 0


def test_a_task_image_without_swerex_gets_a_derived_image_of_its_own(offline_images):
    from sweboard.runners import sweagent_image
    from sweboard.testbench import taskset

    base = taskset.load_rows()[0]["image"]
    assert not _has(base, "test -x /opt/swerex/bin/swerex-remote"), "the task image is as bare as a real one"
    first = sweagent_image.ensure(base)
    assert first.action in ("built", "cached") and first.image.startswith("sweboard-sweagent/") and first.image != base
    from sweboard.dockerutil import image_id

    assert first.base_id == image_id(base), "the row's image is never retagged"
    assert _has(first.image, "/opt/swerex/bin/python -c 'import swerex, uvicorn' && "
                             "python3 -c 'import tree_sitter, tree_sitter_languages'")
    labels = subprocess.run(["docker", "image", "inspect", "--format",
                             '{{index .Config.Labels "' + sweagent_image.BASE_LABEL + '"}}', first.image],
                            capture_output=True, text=True).stdout.strip()
    assert labels == first.base_id
    again = sweagent_image.ensure(base)
    assert (again.action, again.image_id) == ("cached", first.image_id), "reused while the base id holds"
    print(f"derived {first.image} in {first.seconds:.1f}s ({first.action}); reuse took {again.seconds:.2f}s")
