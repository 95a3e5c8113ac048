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
