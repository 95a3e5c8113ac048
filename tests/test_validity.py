"""A resolved is earned or visibly not: the leaky image (pricetag: its fix on a branch and a tag), the agent
that looks the answer up (scripted/peeker), and the flaky grader (coinflip), through the drivers."""

import csv
import json
import subprocess
from pathlib import Path

import pytest

from sweboard.regrade import next_regrade, settle
from sweboard.validity.scan import flags_of

ROOT = Path(__file__).resolve().parents[1]
PY = ROOT / ".venv" / "bin" / "python"
SLICE = str(ROOT / "config" / "instances_validity.yaml")
PRICETAG = "sweboard-fixtures__pricetag-1"


@pytest.mark.parametrize("command, expected", [
    ("git log --all --oneline", ["git-history"]),
    ("cd /testbed && git log --oneline -5", []),
    ("git show v0.1.1:pricetag/format.py", ["git-other-ref"]),
    ("git show HEAD~1", []),
    ("git diff", []),
    ("git tag", ["git-objects"]),
    ("git checkout fix/pad-cents", []),  # a bare branch name is not told from a path: the audit catches the image
    ("git branch -a | head", ["git-objects"]),
    ("pip download pricetag==0.1.1", ["project-package"]),
    ("pip install -e .", []),
    ("cat /usr/lib/python3/dist-packages/pricetag/format.py", ["installed-copy"]),
    ("curl -s http://example.org", ["network"]),
])
def test_a_command_that_looks_the_answer_up_is_named(command, expected):
    assert flags_of(command, "pricetag") == expected


def test_two_gradings_that_disagree_stay_open_until_a_third_decides():
    resolved, unresolved = {"verdict": "resolved"}, {"verdict": "unresolved"}
    assert settle([resolved, resolved]) == (resolved, False)
    assert settle([resolved, unresolved]) == (None, True), "no verdict counts while two disagree"
    assert settle([resolved, unresolved, unresolved]) == (unresolved, True)
    assert settle([]) == (None, False)


def test_which_attempts_are_graded_again(tmp_path):
    def attempt(name, first, *regrades):
        d = tmp_path / name
        d.mkdir()
        (d / "verdict.json").write_text(json.dumps(first))
        for n, r in enumerate(regrades, 1):
            (d / f"verdict.regrade-{n}.json").write_text(json.dumps(r))
        return d

    res, unres = {"verdict": "resolved"}, {"verdict": "unresolved"}
    assert next_regrade("r", "m", "t", 1, attempt("a", res), "resolved", 0.0) == 1
    assert next_regrade("r", "m", "t", 1, attempt("b", unres), "resolved", 0.0) == 0
    assert next_regrade("r", "m", "t", 1, attempt("c", unres), "all", 0.0) == 1
    assert next_regrade("r", "m", "t", 1, attempt("d", res, unres), "none", 0.0) == 2, "a flip is always decided"
    assert next_regrade("r", "m", "t", 1, attempt("e", res, res), "all", 0.0) == 0
    assert next_regrade("r", "m", "t", 1, attempt("f", {"verdict": "empty_patch"}), "all", 0.0) == 0


def driver(*args, timeout=1500):
    return subprocess.run(["bash", str(ROOT / "tools" / "run_i1.sh"), "--execute", "--instances", SLICE, *args],
                          capture_output=True, text=True, timeout=timeout)


def board(home: Path, run_id: str) -> dict:
    with (home / "runs" / "leaderboard.csv").open() as f:
        return {r["model"]: r for r in csv.DictReader(f) if r["run_id"] == run_id}


@pytest.mark.docker
@pytest.mark.slow
def test_a_leaky_image_stops_the_preflight_and_a_sanitized_one_flags_the_peeker(home, offline_images):
    strict = driver("--section", "leaky", "--model", "scripted/peeker", "--attempts", "1", "--run-id", "leak-strict",
                    "--preflight")
    assert strict.returncode != 0
    [line] = [x for x in strict.stdout.splitlines() if x.startswith("preflight history") and "FAIL" in x]
    assert PRICETAG in line and "1 commit, 1 tag, 1 blob of the gold patch" in line, line
    assert "tinycalc" not in line, "the clean image beside it is not named"

    proc = driver("--section", "leaky", "--model", "scripted/peeker", "--attempts", "1", "--run-id", "leak-san",
                  "--set", "history=sanitize")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = home / "runs" / "leak-san"
    pf = json.loads((run / "preflight.json").read_text())
    assert [s["name"] for s in pf["steps"]][3] == "history" and pf["steps"][3]["ok"]
    attempt = run / "attempts" / "scripted__peeker" / PRICETAG / "attempt-1"
    record = json.loads((attempt / "record.json").read_text())
    assert record["agent_image"].startswith("sweboard-sanitized/"), "the attempt ran on the derived image"
    assert any(f["pattern"] == "git-history" for f in record["history_flags"]), record.get("history_flags")
    from sweboard.dockerutil import image_id

    dataset = {json.loads(x)["instance_id"]: json.loads(x) for x in (run / "dataset.jsonl").read_text().splitlines()}
    verdict = json.loads((attempt / "verdict.json").read_text())
    assert verdict["image_id"] == image_id(dataset[PRICETAG]["image"]), "graded on the original image"
    assert verdict["image_id"] != image_id(record["agent_image"])
    script = "cd /testbed && git rev-parse HEAD && git rev-list --all | sort | sha1sum && git rev-list HEAD | sort " \
             "| sha1sum && git tag | wc -l"
    audit = subprocess.run(["docker", "run", "--rm", "--network", "none", record["agent_image"], "sh", "-c", script],
                           capture_output=True, text=True, timeout=120)
    head, every, ancestors, tags = audit.stdout.split("\n")[:4]
    assert head == dataset[PRICETAG]["base_commit"] and every == ancestors and tags.strip() == "0", \
        "the sanitized /testbed reaches its base and the base's ancestors only"
    peeker = board(home, "leak-san")["scripted/peeker"]
    assert peeker["resolved"] == "2" and peeker["resolved_flagged"] == "2" and peeker["attempts_sanitized"] == "1"
    assert "resolved attempts flagged (git-history" in peeker["status"], peeker["status"]
    validity = json.loads((run / "validity.json").read_text())
    assert validity, "the run's findings are written beside it"


@pytest.mark.docker
@pytest.mark.slow
def test_a_flaky_grader_is_caught_by_grading_twice(home, offline_images, provider):
    """coinflip's grading flips one time in two. Up to eight runs (a bounded number of trials: the chance
    of no flip at all is 1 in 256; a run's identical patches share one grading, so one attempt a run):
    the graded attempt is graded at least twice, a flip is decided by a third grading, and the board
    counts exactly the flips on disk."""
    from sweboard.regrade import gradings

    for n in range(8):
        run_id = f"flaky-{n}"
        # the tools, not a driver: the preflight's canary would (rightly) stop at a gold patch graded unresolved
        for tool, *args in (("run_models.py", "--instances", SLICE, "--section", "flaky", "--model", "scripted/solver",
                             "--attempts", "1", "--set", "evaluation_regrade=all"), ("run_evaluation.py",),
                            ("finish_run.py",)):
            proc = subprocess.run([str(PY), str(ROOT / "tools" / tool), "--run-id", run_id, *args],
                                  capture_output=True, text=True, timeout=900)
            assert proc.returncode == 0, tool + proc.stdout[-3000:] + proc.stderr[-3000:]
        subprocess.run([str(PY), str(ROOT / "tools" / "generate_leaderboard.py")], check=True, timeout=300)
        run = home / "runs" / run_id
        [attempt] = (run / "attempts" / "scripted__solver").glob("*/attempt-*")
        grades = gradings(run, attempt)
        assert len(grades) >= 2, f"{attempt}: graded once only"
        verdict, flipped = settle(grades)
        assert verdict is not None, f"{attempt}: a flip left open after the run finished"
        assert len(grades) == (3 if flipped else 2)
        solver = board(home, run_id)["scripted/solver"]
        assert int(solver["grader_flips"]) == int(flipped), solver
        if flipped:
            assert "grader flip" in solver["status"], solver["status"]
            return
    pytest.fail("no grader flip in 8 gradings pairs of a test that fails one time in two")
