"""SWE-agent images: each task image, made able to host SWE-agent, without a network.

Why: SWE-agent drives its container through swe-rex, and its editing tool bundle pip-installs
tree-sitter at start-up. A SWE-bench task image has neither, and task containers have no
network, so every attempt would fail as infrastructure. sweboard derives an image per task:
`FROM <the row's image, by id>`, swe-rex 1.4.0 in a venv of its own at /opt/swerex (from a
Python >= 3.10 the image has), and the tree-sitter wheels in the environment the tools run in
(the interactive shell's python3), both installed with `--network none` from a wheelhouse
downloaded on the host once per Python version. It is tagged under sweboard's own name (never
over the row's image), labelled with the base image's id, and reused while that id holds.
An image that already has both (the bundled offline images) is used as it is.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sweboard.dockerutil import docker, image_id
from sweboard.errors import SweboardError
from sweboard.paths import cache_dir

NAMESPACE = "sweboard-sweagent"
BASE_LABEL = "sweboard.sweagent.base-id"
TOOL_MODULES = "tree_sitter, tree_sitter_languages"

PROBE = r"""
sys_py=""; for p in /usr/bin/python3 /usr/local/bin/python3; do [ -x "$p" ] && { sys_py="$p"; break; }; done
echo "swerex=$([ -x /opt/swerex/bin/swerex-remote ] && echo yes || echo no)"
echo "tools_python=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)"
echo "tools_ready=$(python3 -c 'import tree_sitter, tree_sitter_languages' 2>/dev/null && echo yes || echo no)"
echo "system_python=$sys_py $([ -n "$sys_py" ] && $sys_py -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
"""


@dataclass(frozen=True)
class SweAgentImage:
    """What SWE-agent's container starts from for one task image."""

    base: str  # the row's image
    base_id: str
    image: str  # the tag attempts use (the base itself when it is ready)
    image_id: str
    action: str  # "ready" (used as it is) | "cached" | "built"
    seconds: float


def probe(base_id: str) -> dict:
    """What the image has, from one throw-away container (no network), cached by image id."""
    cache = cache_dir() / "sweagent-image-probes.json"
    known = json.loads(cache.read_text()) if cache.is_file() else {}
    if base_id in known:
        return checked_facts(known[base_id], base_id)
    proc = docker("run", "--rm", "--network", "none", "--entrypoint", "/bin/bash", base_id, "-ic", PROBE,
                  check=False, timeout=120)
    facts = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    if proc.returncode != 0 or "swerex" not in facts:
        raise SweboardError(f"image {base_id[:19]}: could not look inside it (exit {proc.returncode}): "
                            f"{(proc.stderr.strip().splitlines() or ['no output'])[-1][:200]}")
    facts = checked_facts(facts, base_id)
    cache.parent.mkdir(parents=True, exist_ok=True)
    known[base_id] = facts
    tmp = cache.with_name(f".{cache.name}.tmp")
    tmp.write_text(json.dumps(known, indent=1))
    tmp.replace(cache)
    return facts


_PATH = re.compile(r"^/[A-Za-z0-9._/+-]{1,200}$")
_VERSION = re.compile(r"^\d{1,2}\.\d{1,3}$")


def checked_facts(facts: dict, image: str) -> dict:
    """What the image said about itself, as data: yes/no answers, versions like 3.11 and plain absolute
    paths. Its answer goes into a Dockerfile, so anything else (`/tmp/a;id`, `3.x`) is refused with one
    line naming the image, never written there."""
    out = {}
    for key in ("swerex", "tools_ready"):
        if facts.get(key, "no") not in ("yes", "no"):
            raise SweboardError(f"image {image[:19]}: its probe answered {key}={facts.get(key)[:40]!r}, expected yes or no")
        out[key] = facts.get(key, "no")
    tools = facts.get("tools_python", "").strip()
    if tools and not _VERSION.match(tools):
        raise SweboardError(f"image {image[:19]}: its python3 reports version {tools[:40]!r}, expected N.N")
    out["tools_python"] = tools
    path, _, ver = facts.get("system_python", "").strip().partition(" ")
    if path and (not _PATH.match(path) or not _VERSION.match(ver.strip())):
        raise SweboardError(f"image {image[:19]}: its system Python answer {facts.get('system_python', '')[:60]!r} is not "
                            "an absolute path and a version N.N")
    out["system_python"] = f"{path} {ver.strip()}" if path else ""
    return out


def _ready(facts: dict) -> bool:
    return facts.get("swerex") == "yes" and facts.get("tools_ready") == "yes"


def _python_for_swerex(facts: dict, base: str) -> tuple[str, str]:
    """(interpreter path or 'python3', version) for /opt/swerex: swe-rex needs Python >= 3.10."""
    path, _, ver = facts.get("system_python", "").partition(" ")
    if path and ver and tuple(map(int, ver.split("."))) >= (3, 10):
        return path, ver
    ver = facts.get("tools_python", "")
    if ver and tuple(map(int, ver.split("."))) >= (3, 10):
        return "python3", ver
    raise SweboardError(f"image {base}: no Python >= 3.10 for swe-rex (system: {facts.get('system_python') or 'none'}, "
                        f"shell: {ver or 'none'}); SWE-agent cannot run in it (use --runner mini)")


def dockerfile(base_id: str, facts: dict, base: str) -> str:
    from sweboard.testbench.images import SWEAGENT_TOOL_REQUIREMENTS, SWEREX_REQUIREMENT

    py, _ = _python_for_swerex(facts, base)
    tools = " ".join(f"'{r}'" for r in SWEAGENT_TOOL_REQUIREMENTS)
    steps = [f"FROM {base_id}", "COPY wheels /tmp/sweboard-wheels"]
    if facts.get("swerex") != "yes":
        steps.append(f"RUN {shlex.quote(py)} -m venv /opt/swerex && /opt/swerex/bin/pip install --quiet --no-index "
                     f"--find-links /tmp/sweboard-wheels/swerex '{SWEREX_REQUIREMENT}' "
                     "&& ln -sf /opt/swerex/bin/swerex-remote /usr/local/bin/swerex-remote")
    if facts.get("tools_ready") != "yes":  # where SWE-agent's tools run: the interactive shell's python3
        steps.append(f'RUN ["/bin/bash", "-ic", "python3 -m pip install --quiet --no-index '
                     f'--find-links /tmp/sweboard-wheels/tools {tools.replace(chr(39), "")}"]')
    steps += ["RUN rm -rf /tmp/sweboard-wheels", f"LABEL {BASE_LABEL}={base_id}"]
    return "\n".join(steps) + "\n"


def derived_tag(base: str, base_id: str, recipe: str) -> str:
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in base.split(":")[0].lower())[-100:]
    return f"{NAMESPACE}/{name}:{base_id.split(':')[-1][:12]}-{recipe[:8]}"


def ensure(base: str, log=lambda s: None) -> SweAgentImage:
    """The image SWE-agent's attempts at this task start from; derived (or reused) as needed."""
    import hashlib

    from sweboard.testbench.images import SWEAGENT_TOOL_REQUIREMENTS, SWEREX_REQUIREMENT, _docker_build, wheelhouse

    start = time.monotonic()
    base_id = image_id(base)
    if base_id is None:
        raise SweboardError(f"image {base}: not on this machine (pull or build it first)")
    facts = probe(base_id)
    if _ready(facts):
        return SweAgentImage(base, base_id, base, base_id, "ready", time.monotonic() - start)
    text = dockerfile(base_id, facts, base)
    recipe = hashlib.sha256(text.encode()).hexdigest()
    tag = derived_tag(base, base_id, recipe)
    existing = image_id(tag)
    if existing:
        return SweAgentImage(base, base_id, tag, existing, "cached", time.monotonic() - start)
    _, swerex_ver = _python_for_swerex(facts, base)
    with tempfile.TemporaryDirectory(prefix="sweboard-sweagent-image-") as tmp:
        ctx = Path(tmp)
        shutil.copytree(wheelhouse([SWEREX_REQUIREMENT], swerex_ver), ctx / "wheels" / "swerex")
        tools_ver = facts.get("tools_python") or swerex_ver
        shutil.copytree(wheelhouse(list(SWEAGENT_TOOL_REQUIREMENTS), tools_ver), ctx / "wheels" / "tools")
        (ctx / "Dockerfile").write_text(text)
        log(f"deriving the SWE-agent image of {base} (swe-rex on Python {swerex_ver}, tools on {tools_ver})")
        _docker_build(tag, ctx, recipe)
    return SweAgentImage(base, base_id, tag, image_id(tag) or "", "built", time.monotonic() - start)


def ensure_all(images: list[str], log=lambda s: None) -> dict[str, SweAgentImage]:
    """Every distinct image, derived once; a base that is missing is left out (its attempts say so)."""
    out = {}
    for base in sorted(set(images)):
        if image_id(base) is None:
            continue
        out[base] = ensure(base, log)
    return out


def record(images: dict[str, SweAgentImage]) -> dict:
    """For the manifest: per row image, its id and the derived image's tag and id."""
    return {base: {k: v for k, v in asdict(img).items() if k != "base"} for base, img in sorted(images.items())}
