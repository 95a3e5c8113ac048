"""Writes from several processes at once: nothing lost, nothing deleted under another's feet."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_manifest_updates_from_two_processes_are_all_kept(home):
    from sweboard.manifest import write_manifest

    write_manifest("conc", {"run_id": "conc", "status": "running", "counter": []})
    script = ("import sys; from sweboard.manifest import update_manifest\n"
              "for i in range(200): update_manifest('conc', lambda m: m['counter'].append(sys.argv[1] + str(i)))\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, tag]) for tag in ("a", "b")]
    for p in procs:
        assert p.wait(timeout=300) == 0
    counter = json.loads((home / "runs" / "conc" / "manifest.json").read_text())["counter"]
    assert len(counter) == 400 and len(set(counter)) == 400


def test_two_processes_building_the_fixture_repos_at_once_both_succeed(tmp_path):
    script = ("import sys; from pathlib import Path; from sweboard.testbench.taskset import build_repos\n"
              "built = build_repos(Path(sys.argv[1]))\nprint(len(built))\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "repos")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert int(out) >= 3


def test_two_batches_starting_one_new_run_together_both_run(home):
    """Two models' batches of the same new run id, started at the same moment: one creates the run,
    the other joins it (no 'exists without a manifest' refusal)."""
    procs = [subprocess.Popen([sys.executable, str(ROOT / "tools" / "run_model_batch.py"), "--run-id", "together",
                               "--model", "instant_empty_submit", "--offline", *extra],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for extra in ([], ["--resume"])]
    results = [p.communicate(timeout=300) for p in procs]
    codes = [p.returncode for p in procs]
    assert codes.count(0) >= 1 and all("exists without a manifest" not in err for _, err in results), results
    assert json.loads((home / "runs" / "together" / "manifest.json").read_text())["batches"]["instant_empty_submit"]



def test_models_at_once_give_the_board_of_one_at_a_time(home, provider, offline_images):
    """The scheduler with jobs=2 against jobs=1 (the serial reference): same verdicts and scores, never
    more than `jobs` attempts holding a slot at once, and more than one when allowed."""
    import csv

    from conftest import I0_SLICE, assert_board_identities, max_overlap

    py = [sys.executable]
    models = ["scripted/solver", "scripted/wrong", "scripted/empty", "instant_empty_submit"]
    flags = [a for m in models for a in ("--model", m)]
    for run_id, jobs in (("serial", 1), ("together", 2)):
        ran = subprocess.run([*py, str(ROOT / "tools" / "run_models.py"), "--run-id", run_id, "--offline", *I0_SLICE, "--attempts",
                              "2", "--jobs", str(jobs), *flags], capture_output=True, text=True, timeout=900)
        assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
        assert "progress: tasks 12/12" in ran.stderr and "[scripted/solver]" in ran.stdout  # one line, plain
        for tool, extra in (("run_evaluation.py", []), ("finish_run.py", [a for m in models for a in ("--expect-model", m)])):
            done = subprocess.run([*py, str(ROOT / "tools" / tool), "--run-id", run_id, *extra], capture_output=True,
                                  text=True, timeout=900)
            assert done.returncode == 0, done.stdout + done.stderr
    for tool in ("collect_manifests.py", "generate_leaderboard.py"):
        subprocess.run([*py, str(ROOT / "tools" / tool)], check=True, capture_output=True, timeout=300)
    assert_board_identities(home / "runs" / "leaderboard.csv")

    def outcomes(run_id):
        out = {}
        for rec in (home / "runs" / run_id / "attempts").glob("*/*/attempt-*/record.json"):
            r = json.loads(rec.read_text())
            verdict = json.loads((rec.parent / "verdict.json").read_text())["verdict"] if (
                rec.parent / "verdict.json").exists() else None
            out[(r["model"], r["instance_id"], r["attempt"])] = (r["status"], verdict, tuple(r["ran_epoch"]))
        return out

    serial, together = outcomes("serial"), outcomes("together")
    assert {k: v[:2] for k, v in serial.items()} == {k: v[:2] for k, v in together.items()}
    assert len(serial) == 3 + 6 + 6 + 3  # solver stops at the first resolved; wrong and empty run K=2
    slots = lambda runs: [v[2] for k, v in runs.items() if k[0] != "instant_empty_submit"]  # noqa: E731 (no slot)
    assert max_overlap(slots(serial)) == 1
    assert max_overlap(slots(together)) == 2  # the cap held, and was used

    with (home / "runs" / "leaderboard.csv").open() as f:
        rows = {(r["run_id"], r["model"]): r for r in csv.DictReader(f)}
    for m in models:
        a, b = rows[("serial", m)], rows[("together", m)]
        for col in ("status", "resolved", "pass@1", "pass@K", "attempts_total", "empty_patches", "attempts_failed",
                    "pass@1_ci_low", "pass@1_ci_high", "rank"):
            assert a[col] == b[col], (m, col, a[col], b[col])
