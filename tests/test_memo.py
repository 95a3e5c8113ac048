"""The validation memo and its sign-off (issue 30): one page of evidence, signed by a person, shown on the board."""

import json

import pytest

from sweboard.cli import generate_leaderboard, validation_memo
from sweboard.errors import SweboardError
from test_leaderboard import _write, attempt, manifest

IDS = ("a__x-1", "a__x-2", "b__y-1", "b__y-2")


def _run(home, run_id, solver_outcomes):
    tasks = {t: [attempt(1), attempt(2)] for t in IDS}
    m = manifest(run_id, {"m": json.loads(json.dumps(tasks)), "base": json.loads(json.dumps(tasks))},
                 {"m": dict(zip(IDS, solver_outcomes)), "base": {t: ["empty_patch", "empty_patch"] for t in IDS}},
                 ids=IDS, stop_after_resolved=False)
    m["preflight"] = {"passed": True, "finished_at": "2026-12-02T10:00:00Z", "runner": "mini",
                      "steps": [{"name": "canary", "ok": True, "seconds": 3.0, "detail": "4 gold resolved"}]}
    _write(home / "runs", m)
    return m


def test_the_memo_gathers_the_evidence_and_a_sign_off_is_appended_and_shown(home, capsys):
    _run(home, "first", [["resolved", "resolved"], ["resolved", "unresolved"], ["resolved", "resolved"],
                         ["unresolved", "unresolved"]])
    _run(home, "rerun", [["resolved", "resolved"], ["unresolved", "resolved"], ["resolved", "resolved"],
                         ["unresolved", "unresolved"]])
    assert validation_memo(["--run-id", "rerun", "--against", "first"]) == 0
    text = (home / "runs" / "rerun" / "validation.md").read_text()
    for part in ("## Slice and lock", "revision `" + "r" * 40 + "`", "## Preflight", "- passed at 2026-12-02T10:00:00Z",
                 "canary: ok", "## Exit gates", "reruns reproduce within normal variance", "## Error classes",
                 "err_path_not_found", "## Variance", "within-task flip rate 0.250", "against first: m: 1/4 tasks flipped",
                 "## Validity", "## Cost", "not signed off"):
        assert part in text, part
    assert "**PASS** best model >= 1.5x the no-patch baseline" in text
    before = json.loads((home / "runs" / "rerun" / "manifest.json").read_text())

    assert validation_memo(["--run-id", "rerun", "--against", "first", "--sign-off", "Ada Lovelace"]) == 0
    after = json.loads((home / "runs" / "rerun" / "manifest.json").read_text())
    [sign] = after.pop("sign_offs")
    assert after == before, "a sign-off appends and changes nothing else of a finished run"
    assert sign["name"] == "Ada Lovelace" and len(sign["memo_sha256"]) == 64 and sign["against"] == "first"
    assert "signed off by Ada Lovelace at " in (home / "runs" / "rerun" / "validation.md").read_text()
    assert generate_leaderboard([]) == 0
    page = (home / "runs" / "rerun" / "leaderboard.html").read_text()
    assert "signed off by Ada Lovelace" in page and 'href="../rerun/validation.md"' in page
    assert validation_memo(["--run-id", "rerun", "--sign-off", "Bob"]) == 0
    assert [s["name"] for s in json.loads((home / "runs" / "rerun" / "manifest.json").read_text())["sign_offs"]] \
        == ["Ada Lovelace", "Bob"], "append-only: the first sign-off stays"


@pytest.mark.parametrize("name", ["", "x\ny", "<script>", "a" * 81, "--"])
def test_a_sign_off_needs_a_plain_name(home, name):
    from sweboard import memo

    _run(home, "r", [["resolved", "resolved"]] * 4)
    with pytest.raises(SweboardError, match="--sign-off: expected a name"):
        memo.write("r", sign_off=name)
    assert "sign_offs" not in json.loads((home / "runs" / "r" / "manifest.json").read_text())


def test_only_a_finished_run_is_signed_and_without_a_rerun_the_gate_says_how(home):
    from sweboard import memo

    m = _run(home, "open", [["resolved", "resolved"]] * 4)
    m["status"] = "running"
    (home / "runs" / "open" / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(SweboardError, match="only a finished run can be signed off"):
        memo.write("open", sign_off="Ada")
    text = memo.render("open")
    assert "**N/A** reruns reproduce within normal variance: no rerun given: tools/validation_memo.py" in text
