"""mutmut over the statistics (`intervals.py`, `stats.py`, `compare.py`) against the fast statistics
tests: the independent check of the curated list (tests/mutants.yaml), which only holds the
mistakes someone thought of.

Why a copy: mutmut rewrites the files it mutates (a trampoline per function) under `mutants/`;
the checkout is never touched. Tests that start a tool in a subprocess import the installed
package, not the mutated copy, so they cannot kill anything: they are deselected, with the
slowest simulations (the coverage table, the board's property tests, the generated rank boards),
which faster tests of the same rules stand in for. A survivor a person judged equivalent (no behaviour any caller can observe changes) matches a
pattern of tests/mutmut_equivalent.yaml (a regex on the mutated line, with why); the score is
killed over non-equivalent mutants, a mutant no selected test reaches counting as not killed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sweboard.errors import SweboardError
from sweboard.yamlio import load_yaml

FILES = ("src/sweboard/intervals.py", "src/sweboard/stats.py", "src/sweboard/compare.py")
TESTS = ("tests/test_statistics.py", "tests/test_leaderboard.py", "tests/test_breakdowns.py",
         "tests/test_rerun_gate.py", "tests/test_power.py", "tests/test_memo.py")
DESELECT = ("run_i3", "curated_mutant", "plans_the_real_slice", "every_printed_interval_covers",
            "test_board_invariants_hold", "folding_twice", "rank_groups_agree", "rank_is_one_plus")


@dataclass(frozen=True)
class Result:
    name: str  # mutmut's mutant name, e.g. sweboard.intervals.x_score_bounds__mutmut_12
    status: str  # killed | survived | no tests | timeout | ...
    why_equivalent: str = ""


def setup_cfg() -> str:
    lines = ["[mutmut]", "source_paths=src", "only_mutate="] + [f"    {f}" for f in FILES]
    lines += ["pytest_add_cli_args_test_selection="] + [f"    {t}" for t in TESTS]
    lines += ["pytest_add_cli_args=", "    -p", "    no:cacheprovider", "    -x", "    -q", "    -k",
              "    " + " and ".join(f"not {d}" for d in DESELECT), "also_copy=", "    config/"]
    return "\n".join(lines) + "\n"


def prepare(root: Path, work: Path) -> None:
    for part in ("src", "tests", "config"):
        shutil.copytree(root / part, work / part, ignore=shutil.ignore_patterns("__pycache__", "mutants"))
    shutil.copy2(root / "pyproject.toml", work / "pyproject.toml")
    (work / "setup.cfg").write_text(setup_cfg())


def mutmut_bin() -> str:
    found = Path(sys.executable).with_name("mutmut")
    if not found.exists():
        raise SweboardError("mutmut is not installed in this environment: .venv/bin/pip install mutmut")
    return str(found)


def parse(text: str) -> list[tuple[str, str]]:
    """`mutmut results --all true` lines (`    name: status`) as (name, status)."""
    out = []
    for line in text.splitlines():
        m = re.match(r"^\s*(\S+__mutmut_\d+): (.+)$", line)
        if m:
            out.append((m.group(1), m.group(2).strip()))
    return out


def equivalents(path: Path) -> list[tuple[str, re.Pattern, str]]:
    """(file, pattern on the mutated line, why) from tests/mutmut_equivalent.yaml."""
    if not path.exists():
        return []
    data = load_yaml(path) or {}
    items = data.get("equivalent") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise SweboardError(f"{path}: expected `equivalent:` a list of {{file, pattern, why}}")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("file", "pattern", "why")):
            raise SweboardError(f"{path}: equivalent[{i}]: expected file, pattern and why (text)")
        out.append((item["file"], re.compile(item["pattern"]), item["why"]))
    return out


def mutated_lines(work: Path, name: str) -> list[str]:
    """The "+" lines of a mutant's diff (`mutmut show`)."""
    text = subprocess.run([mutmut_bin(), "show", name], cwd=work, capture_output=True, text=True, timeout=120).stdout
    return [line[1:] for line in text.splitlines() if line.startswith("+") and not line.startswith("+++")]


def why_equivalent(name: str, lines: list[str], known: list[tuple[str, re.Pattern, str]]) -> str:
    module = name.split(".x")[0].rsplit(".", 1)[-1] + ".py"  # sweboard.intervals.x_f__mutmut_3 -> intervals.py
    for file, pattern, why in known:
        if file == module and any(pattern.search(line) for line in lines):
            return why
    return ""


def run(root: Path, jobs: int, keep: Path | None = None, timeout: float = 5400) -> list[Result]:
    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="sweboard-mutmut-"))
    try:
        if not (work / "setup.cfg").exists():
            prepare(root, work)
        try:
            subprocess.run([mutmut_bin(), "run", "--max-children", str(jobs)], cwd=work, timeout=timeout,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise SweboardError(f"mutmut did not finish in {timeout:.0f}s (its state is kept in {work})") from None
        text = subprocess.run([mutmut_bin(), "results", "--all", "true"], cwd=work, capture_output=True,
                              text=True, timeout=600).stdout
        known = equivalents(root / "tests" / "mutmut_equivalent.yaml")
        return [Result(name, status, why_equivalent(name, mutated_lines(work, name), known) if status == "survived" else "")
                for name, status in parse(text)]
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def score(results: list[Result]) -> tuple[int, int, int, int]:
    """(killed, survived and not equivalent, equivalent, never reached by a test)."""
    killed = sum(r.status in ("killed", "timeout") for r in results)
    equivalent = sum(r.status == "survived" and bool(r.why_equivalent) for r in results)
    survived = sum(r.status == "survived" and not r.why_equivalent for r in results)
    untested = sum(r.status == "no tests" for r in results)
    return killed, survived, equivalent, untested
