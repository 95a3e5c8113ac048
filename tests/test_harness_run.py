"""The official harness as sweboard runs it: warm (a fork of the machine's host running the module as
`__main__` with the same argv) or, when no warm host answers, a fresh interpreter — same exit
code, same output, in the same folder; and the one docker-py call it mends."""

import sys

from sweboard.errors import SweboardError
from sweboard.harness import HARNESS_MODULE, run_harness
from sweboard.runners import warm

HELP = [sys.executable, "-m", HARNESS_MODULE, "--help"]  # argparse prints usage and exits 0 (SystemExit)
BAD = [sys.executable, "-m", HARNESS_MODULE, "--no-such-flag"]  # argparse exits 2


def test_warm_runs_the_module_as_python_m_does(tmp_path, monkeypatch):
    monkeypatch.setenv("SWEBOARD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SWEBOARD_FORKHOST_IDLE", "5")
    monkeypatch.setattr(warm, "_host", None)
    code, _ = run_harness(HELP, tmp_path / "ok")
    log = (tmp_path / "ok" / "evaluator.log").read_text()
    assert code == 0 and "--predictions_path" in log, log[-1500:]
    assert (tmp_path / "ok" / "harness_argv.json").is_file(), "it did not run in a fork of the warm host"
    assert "Traceback" not in log and "RuntimeWarning" not in log, log[-1500:]
    code, _ = run_harness(BAD, tmp_path / "bad")
    assert code == 2, (tmp_path / "bad" / "evaluator.log").read_text()[-1500:]


def test_without_a_warm_host_a_fresh_interpreter_runs_it(tmp_path, monkeypatch):
    def no_host(*args, **kwargs):
        raise SweboardError("fork host: no answer")

    monkeypatch.setattr(warm, "spawn", no_host)
    code, _ = run_harness(HELP, tmp_path / "cold")
    log = (tmp_path / "cold" / "evaluator.log").read_text()
    assert code == 0 and "--predictions_path" in log
    assert "warm start unavailable: fork host: no answer" in log


def test_the_harness_lists_containers_ignoring_those_removed_meanwhile(monkeypatch):
    """Its last step lists every container; one removed in between must not fail the run (docker-py's
    `ignore_removed`, which the harness does not pass)."""
    from docker.models.containers import ContainerCollection

    from sweboard.harness_fork import _mend_container_listing

    seen = []
    monkeypatch.setattr(ContainerCollection, "list", lambda self, all=False, ignore_removed=False: seen.append(
        (all, ignore_removed)) or [])
    _mend_container_listing()
    _mend_container_listing()  # once is enough: a second call does not wrap again
    ContainerCollection.list(object(), all=True)
    ContainerCollection.list(object(), all=True, ignore_removed=False)  # a caller that asks keeps its choice
    assert seen == [(True, True), (True, False)]
