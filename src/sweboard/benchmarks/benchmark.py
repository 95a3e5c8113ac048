"""Timings of the test bench: image builds (cold and cached) and evaluation overhead.

Prints numbers; asserts nothing. The evaluation target is per-instance evaluator wall time
within 2x of (the tests' own time + one container start).
"""

from __future__ import annotations

import re
import statistics
import time
from datetime import datetime
from pathlib import Path

from sweboard.dockerutil import docker
from sweboard.testbench import images, taskset

_TS = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})")
_PYTEST = re.compile(r"in ([0-9.]+)s")


def _log_span(log: Path) -> float | None:
    stamps = [datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f") for line in log.read_text().splitlines()
              if (m := _TS.match(line))]
    return (stamps[-1] - stamps[0]).total_seconds() if len(stamps) >= 2 else None


def _pytest_seconds(output: Path) -> float | None:
    """pytest's own figure ('N passed in X s'): excludes interpreter start and collection."""
    found = [float(m.group(1)) for line in output.read_text().splitlines() if "passed" in line or "failed" in line
             if (m := _PYTEST.search(line))]
    return found[-1] if found else None


def _test_process_seconds(output: Path) -> float | None:
    """Wall time of the whole `python -m pytest` process, printed by the offline eval scripts."""
    found = [int(line.split("=", 1)[1]) for line in output.read_text().splitlines()
             if line.startswith("SWEBOARD_TEST_WALL_MS=")]
    return found[-1] / 1000 if found else None


def container_start_seconds(image: str, n: int = 5) -> float:
    times = []
    for _ in range(n):
        t = time.monotonic()
        docker("run", "--rm", "--network", "none", image, "true")
        times.append(time.monotonic() - t)
    return statistics.median(times)


def run(cold: bool = True, log=print) -> dict:
    out: dict = {}
    images.build_all(log=lambda s: None)  # make sure everything exists first
    if cold:
        tag = "sweboard-bench/base:cold"
        event = images.build_base(force=True, tag=tag)
        docker("rmi", "-f", tag, check=False)
        out["base_cold_s"] = round(event.seconds, 1)
    t = time.monotonic()
    images.build_base()
    out["base_cached_s"] = round(time.monotonic() - t, 3)
    repos, repo_dirs = taskset.load_repos(), taskset.build_repos()
    task_times = {}
    for row in taskset.load_rows():
        tag = f"sweboard-bench/task:{row['instance_id'].replace('__', '_1776_')}"
        event = images.build_task(row, repos[row["repo"]], repo_dirs[row["repo"]], tag=tag, force=True)
        docker("rmi", "-f", tag, check=False)
        task_times[row["instance_id"]] = round(event.seconds, 2)
    out["task_build_s"] = task_times

    from sweboard.benchmarks.goldcheck import gold_check

    summary = gold_check(log=lambda s: None)
    from sweboard.manifest import run_dir

    root = run_dir(summary["run_id"]) / "evaluation" / "gold" / "logs" / "run_evaluation"
    start = container_start_seconds(taskset.load_rows()[0]["image"])
    out["container_start_s"] = round(start, 3)
    per = {}
    for inst_dir in sorted(root.glob("*/gold/*")):
        wall = _log_span(inst_dir / "run_instance.log")
        pytest_s = _pytest_seconds(inst_dir / "test_output.txt")
        tests = _test_process_seconds(inst_dir / "test_output.txt")
        if wall is not None and tests is not None:
            per[inst_dir.name] = {"eval_wall_s": round(wall, 2), "tests_s": tests, "pytest_reported_s": pytest_s,
                                  "ratio_to_tests_plus_start": round(wall / (tests + start), 2)}
    out["evaluation"] = per
    out["gold_check_passed"] = summary["passed"]
    out["gold_check_wall_s"] = summary["results"]["gold"]["seconds"]
    return out


def main() -> int:
    import argparse

    p = argparse.ArgumentParser(description="Time the offline test bench (prints numbers).")
    p.add_argument("--skip-cold", action="store_true", help="skip the cold debootstrap base build (~1 min)")
    args = p.parse_args()
    r = run(cold=not args.skip_cold)
    if "base_cold_s" in r:
        print(f"base image, cold build (debootstrap + import): {r['base_cold_s']:.1f} s")
    print(f"base image, cached: {r['base_cached_s']:.3f} s")
    for iid, s in r["task_build_s"].items():
        print(f"task image {iid}: {s:.2f} s")
    print(f"container start (docker run --rm … true, median of 5): {r['container_start_s']:.3f} s")
    print(f"{'instance':36} {'eval wall s':>11} {'test proc s':>11} {'pytest s':>8} {'ratio':>6}"
          "  (ratio = eval wall / (test process + container start); target <= 2)")
    for iid, e in r["evaluation"].items():
        print(f"{iid:36} {e['eval_wall_s']:>11.2f} {e['tests_s']:>11.2f} {e['pytest_reported_s'] or 0:>8.2f} "
              f"{e['ratio_to_tests_plus_start']:>6.2f}")
    print(f"gold check: {'passed' if r['gold_check_passed'] else 'FAILED'}, {r['gold_check_wall_s']:.1f} s for all instances")
    return 0
