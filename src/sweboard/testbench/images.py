"""Task images built with no registry: debootstrap base → per-repo env → per-task image.

Why three layers: the base (a Debian rootfs, ~1 min) is built once per machine; the env
image holds the repo's test dependencies, installed offline from a host-side wheelhouse; the
task image only adds the repo at `base_commit`, so it builds in seconds. Each image carries a `sweboard.recipe` label (a hash of everything that went
into it) and is rebuilt only when that recipe changes.

Every task image: is tagged with the exact `image` its dataset row names; has the repo at
`/testbed`; stops at once (`STOPSIGNAL SIGKILL`; the harness's PID 1 is `tail -f`, which
ignores SIGTERM and would cost 15 s per stop); has `kill` (procps) for the harness's
timeout handler. Like a real SWE-bench image it has neither swe-rex nor what SWE-agent's tool
bundles pip-install at start-up: SWE-agent's runner derives its own image from it
(runners/sweagent_image.py), exactly as it does from a real one.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sweboard.dockerutil import docker, image_labels, require_engine
from sweboard.errors import SweboardError
from sweboard.paths import cache_dir
from sweboard.testbench import taskset

DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = ("python3", "python3-venv", "git", "patch", "procps", "ca-certificates")
SWEREX_REQUIREMENT = "swe-rex==1.4.0"  # put into SWE-agent's derived images (runners/sweagent_image.py)
# What SWE-agent's edit_anthropic tool bundle pip-installs at start-up: present beforehand in the
# derived image, its install.sh finds them satisfied and needs no network (the containers have none).
SWEAGENT_TOOL_REQUIREMENTS = ("tree-sitter==0.21.3", "tree-sitter-languages==1.10.2")
RECIPE_LABEL = "sweboard.recipe"


@dataclass
class BuildEvent:
    """What the builder did for one image, for the operator and the benchmark."""

    tag: str
    action: str  # "built" | "cached"
    seconds: float


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def base_recipe() -> str:
    return _digest("debootstrap", "--variant=minbase", DEBIAN_SUITE, *BASE_PACKAGES, "v1")


def base_tag() -> str:
    return f"{taskset.IMAGE_NAMESPACE}/base:{base_recipe()}"


def _is_current(tag: str, recipe: str) -> bool:
    labels = image_labels(tag)
    return labels is not None and labels.get(RECIPE_LABEL) == recipe


def build_base(force: bool = False, tag: str | None = None) -> BuildEvent:
    """debootstrap a minimal Debian and `docker import` it (needs root and debootstrap)."""
    tag, recipe = tag or base_tag(), base_recipe()
    if not force and image_labels(tag) is not None:
        return BuildEvent(tag, "cached", 0.0)
    if shutil.which("debootstrap") is None:
        raise SweboardError("debootstrap: not installed; as root run 'apt-get install -y debootstrap'")
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sweboard-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        proc = subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
             DEBIAN_SUITE, str(rootfs), DEBIAN_MIRROR],
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
            raise SweboardError(f"debootstrap {DEBIAN_SUITE} failed: {' | '.join(tail)}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imp = subprocess.run(
            ["docker", "import", "--change", f"LABEL {RECIPE_LABEL}={recipe}",
             "--change", 'CMD ["/bin/bash"]', "-", tag],
            stdin=tar.stdout, capture_output=True, text=True,
        )
        tar.stdout.close()
        tar.wait()
        if imp.returncode != 0:
            raise SweboardError(f"docker import of the base rootfs failed: {imp.stderr.strip()}")
    return BuildEvent(tag, "built", time.monotonic() - start)


def wheelhouse(requirements: list[str], python_version: str | None = None) -> Path:
    """`pip download` the requirements on the host (which can reach PyPI) into the cache: for the
    offline images' Python 3.11 by default, else into a folder of their own for that version."""
    dest = cache_dir() / "wheelhouse"
    if python_version:
        dest = dest / f"py{python_version}-{_digest(*sorted(requirements))}"
    dest.mkdir(parents=True, exist_ok=True)
    stamp = dest / f".done-{_digest(*sorted(requirements))}"
    if stamp.exists():
        return dest
    proc = subprocess.run(
        [sys.executable, "-I", "-m", "pip", "download", "--quiet", "--only-binary=:all:",
         "--python-version", python_version or "3.11", "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_17_x86_64",
         "--platform", "manylinux_2_28_x86_64", "--platform", "any",
         "-d", str(dest), *requirements],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        raise SweboardError(f"pip download {' '.join(requirements)} failed: {tail[0]}")
    stamp.write_text("\n".join(requirements) + "\n")
    return dest


def _docker_build(tag: str, context: Path, recipe: str) -> None:
    proc = docker("build", "--network", "none", "--label", f"{RECIPE_LABEL}={recipe}", "-t", tag, str(context),
                  check=False, timeout=1200)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        raise SweboardError(f"docker build {tag} failed: {' | '.join(tail)}")


def _env_dockerfile(base: str, requirements: tuple[str, ...]) -> str:
    reqs = " ".join(f"'{r}'" for r in requirements)
    install = f"/opt/venv/bin/pip install --quiet --no-index --find-links /tmp/wheels {reqs}" if reqs else "true"
    return f"""FROM {base}
COPY wheels /tmp/wheels
RUN python3 -m venv /opt/venv \\
 && {install} \\
 && rm -rf /tmp/wheels
RUN git config --system --add safe.directory /testbed \\
 && git config --system user.email agent@sweboard.invalid && git config --system user.name agent \\
 && echo 'source /opt/venv/bin/activate' >> /root/.bashrc
ENV PATH=/opt/venv/bin:$PATH
STOPSIGNAL SIGKILL
"""


def env_tag(repo: taskset.FixtureRepo) -> tuple[str, str, str]:
    dockerfile = _env_dockerfile(base_tag(), repo.requirements)
    recipe = _digest(dockerfile)
    return f"{taskset.IMAGE_NAMESPACE}/env.{repo.env_key.replace('__', '_1776_')}:{recipe}".lower(), recipe, dockerfile


def build_env(repo: taskset.FixtureRepo) -> BuildEvent:
    tag, recipe, dockerfile = env_tag(repo)
    if _is_current(tag, recipe):
        return BuildEvent(tag, "cached", 0.0)
    start = time.monotonic()
    wheels = wheelhouse(list(repo.requirements))
    with tempfile.TemporaryDirectory(prefix="sweboard-env-") as tmp:
        ctx = Path(tmp)
        shutil.copytree(wheels, ctx / "wheels")
        (ctx / "Dockerfile").write_text(dockerfile)
        _docker_build(tag, ctx, recipe)
    return BuildEvent(tag, "built", time.monotonic() - start)


def build_task(row: dict, repo: taskset.FixtureRepo, repo_dir: Path, tag: str | None = None,
               force: bool = False) -> BuildEvent:
    tag = tag or row["image"]
    env, _, _ = env_tag(repo)
    dockerfile = f"FROM {env}\nCOPY repo /testbed\nWORKDIR /testbed\nSTOPSIGNAL SIGKILL\nCMD [\"/bin/bash\"]\n"
    recipe = _digest(dockerfile, row["base_commit"])
    if not force and _is_current(tag, recipe):
        return BuildEvent(tag, "cached", 0.0)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sweboard-task-") as tmp:
        ctx = Path(tmp)
        shutil.copytree(repo_dir, ctx / "repo", symlinks=True)
        (ctx / "Dockerfile").write_text(dockerfile)
        _docker_build(tag, ctx, recipe)
    return BuildEvent(tag, "built", time.monotonic() - start)


def build_all(instance_ids: list[str] | None = None, log=print) -> list[BuildEvent]:
    """Build whatever is missing for the given instances (default: all) and say what happened."""
    require_engine()
    rows = taskset.load_rows()
    if instance_ids:
        known = {r["instance_id"] for r in rows}
        unknown = sorted(set(instance_ids) - known)
        if unknown:
            raise SweboardError(f"unknown offline instance ids: {unknown}; expected some of {sorted(known)}")
        rows = [r for r in rows if r["instance_id"] in instance_ids]
    repos = taskset.load_repos()
    events = [build_base()]
    log(f"{events[-1].action:6} {events[-1].tag} ({events[-1].seconds:.1f}s)")
    repo_dirs = taskset.build_repos()
    for repo_name in sorted({r["repo"] for r in rows}):
        events.append(build_env(repos[repo_name]))
        log(f"{events[-1].action:6} {events[-1].tag} ({events[-1].seconds:.1f}s)")
    for row in rows:
        events.append(build_task(row, repos[row["repo"]], repo_dirs[row["repo"]]))
        log(f"{events[-1].action:6} {events[-1].tag} ({events[-1].seconds:.1f}s)")
    return events
