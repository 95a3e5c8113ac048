"""Mutation testing of the statistics and fold code from a curated list (tests/mutants.yaml).

Why curated: each mutant is a mistake a reviewer would plausibly make (an unadjusted p-value, a
one-sided bound, a partial sum shown as a total), so "killed" means a test guards that rule.
Each mutant runs in its own copy of `src/` put first on PYTHONPATH; the tree is never edited.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sweboard.errors import SweboardError
from sweboard.yamlio import load_yaml, require


@dataclass(frozen=True)
class Mutant:
    file: str  # path from the project root
    find: str  # text that occurs exactly once in the file
    replace: str  # what it becomes
    why: str  # the mistake it stands for


@dataclass(frozen=True)
class Outcome:
    mutant: Mutant
    killed: bool
    detail: str  # the first failing test, or why it survived


def load(path: Path) -> tuple[list[str], list[Mutant]]:
    data = load_yaml(path)
    tests = require(data, "tests", list, str(path))
    mutants = []
    for i, item in enumerate(require(data, "mutants", list, str(path))):
        where = f"{path}: mutants[{i}]"
        mutants.append(Mutant(*(require(item, key, str, where) for key in ("file", "find", "replace", "why"))))
    return tests, mutants


def check(root: Path, mutants: list[Mutant]) -> None:
    """Every mutant still applies: its text occurs exactly once (the code moved on otherwise)."""
    for m in mutants:
        count = (root / m.file).read_text().count(m.find)
        if count != 1:
            raise SweboardError(f"tests/mutants.yaml: {m.file}: {m.find!r} occurs {count} times (expected once); "
                                "update the mutant to the current code")


NONE = Mutant("", "", "", "no mutant: the tests must pass on the copy as they are")


def run_one(root: Path, tests: list[str], m: Mutant, timeout: float = 600) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="sweboard-mutant-") as tmp:
        shutil.copytree(root / "src", Path(tmp) / "src", ignore=shutil.ignore_patterns("__pycache__"))
        if m.file:
            target = Path(tmp) / m.file
            target.write_text(target.read_text().replace(m.find, m.replace, 1))
        # the copy's package must still find the project's config/: SWEBOARD_HOME names the root
        env = {**os.environ, "PYTHONPATH": str(Path(tmp) / "src"), "PYTHONDONTWRITEBYTECODE": "1",
               "SWEBOARD_HOME": str(root)}
        try:
            proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-x", "-q", *tests],
                                  cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return Outcome(m, True, f"timed out after {timeout:.0f}s")
    failed = [line for line in proc.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    return Outcome(m, proc.returncode != 0, failed[0] if failed else "all tests passed")


def run_all(root: Path, tests: list[str], mutants: list[Mutant], jobs: int = 2) -> list[Outcome]:
    """Each mutant's outcome; first the copy without a mutant must pass (else every "kill" is false)."""
    check(root, mutants)
    baseline = run_one(root, tests, NONE)
    if baseline.killed:
        raise SweboardError(f"run_mutants: the tests fail on an unmutated copy ({baseline.detail}); fix that first")
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(lambda m: run_one(root, tests, m), mutants))
