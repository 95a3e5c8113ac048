"""Round 3 of the security review: what another local user, a worker node, a damaged file or a dying
process could do, each shown not to happen (docs/threat-model.md lists every row and its test).
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import wait_for

ROOT = Path(__file__).resolve().parents[1]
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
SECRET = "sk-or-v1-STRANGERS-0123456789abcdef0123456789"
ONE_TASK = ["--offline", "--instance-ids", "sweboard-fixtures__tinycalc-1"]


def tool(name, *args, cwd=None, env=None, timeout=600):
    return subprocess.run([sys.executable, str(ROOT / "tools" / name), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)


# --- another user's package in the caller's folder --------------------------------------------------
def plant_packages(folder: Path, marker: Path) -> None:
    """What another local user could leave in a shared folder: packages named like ours and our
    dependencies, each writing `marker` if ever imported."""
    for name in ("sweboard", "swebench", "docker", "minisweagent", "litellm", "ray", "pip"):
        (folder / name).mkdir(parents=True)
        (folder / name / "__init__.py").write_text(f"open({str(marker)!r}, 'a').write({name!r} + '\\n')\n")


@pytest.mark.docker
@pytest.mark.parametrize("warm", ["1", "0"])
def test_a_package_planted_in_the_callers_folder_never_runs(home, provider, offline_images, tmp_path, warm):
    """The batch and the grading run from a folder holding a planted `sweboard/` (and friends): warm (a
    fresh fork host, started from there) and cold; nothing planted is imported, the host runs `-I`."""
    shared = tmp_path / "shared"
    marker = tmp_path / "PLANTED-RAN"
    plant_packages(shared, marker)
    env = {**os.environ, "SWEBOARD_WARM_START": warm, "SWEBOARD_CACHE": str(tmp_path / "cache"),
           "SWEBOARD_FORKHOST_IDLE": "20"}
    ran = tool("run_model_batch.py", "--run-id", "planted", "--model", "scripted/solver", *ONE_TASK, cwd=shared,
               env=env)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    graded = tool("run_evaluation.py", "--run-id", "planted", cwd=shared, env=env)
    assert graded.returncode == 0, graded.stdout[-2000:] + graded.stderr[-2000:]
    assert "1 resolved" in graded.stdout, graded.stdout
    assert not marker.exists(), f"a planted package ran: {marker.read_text()}"
    if warm == "1":
        host = fork_host(env)
        argv = Path(f"/proc/{host['pid']}/cmdline").read_bytes().split(b"\0")
        assert b"-I" in argv, f"the fork host is not isolated: {argv}"
        assert Path(f"/proc/{host['pid']}/cwd").resolve() == Path(host["folder"]).resolve(), \
            "the host works in the caller's folder"


PING = r"""
import json
from sweboard.runners import warm
folder = warm._folder()
print(json.dumps({**warm._request(folder, (folder / "token").read_text().strip(), {"ping": True}), "folder": str(folder)}))
"""


def fork_host(env: dict) -> dict:
    """The fork host of the cache `env` names: its pid and folder (asked over its own socket)."""
    out = subprocess.run([sys.executable, "-c", PING], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_a_planted_or_foreign_fork_host_folder_is_never_used_and_never_stops_a_batch(tmp_path, monkeypatch):
    """A cache path too long for a socket falls back to a folder made with mkdtemp; a pointer planted at a
    folder that is not ours (another user's, a link) is ignored and replaced."""
    from sweboard.runners import warm

    cache = tmp_path / ("c" * 90)
    monkeypatch.setenv("SWEBOARD_CACHE", str(cache))
    first = warm._folder()
    assert first.parent == Path("/tmp") and first.name.startswith("sweboard-fh-")
    assert first.stat().st_mode & 0o777 == 0o700 and first.stat().st_uid == os.getuid()
    assert warm._folder() == first, "every process of ours finds the same host"
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    os.chown(foreign, 65534, 65534)
    pointer = next((cache / "forkhost").glob("*.folder"))
    for planted in (foreign, tmp_path / "link"):
        if planted.name == "link":
            planted.symlink_to(first)
        pointer.write_text(str(planted))
        again = warm._folder()
        assert again not in (foreign, planted) and again.stat().st_uid == os.getuid()
        assert again.stat().st_mode & 0o777 == 0o700


# --- a worker node's answers are data ----------------------------------------------------------------
def test_a_workers_attempt_result_is_typed_bounded_and_its_paths_confined(tmp_path):
    from sweboard.runners.base import AttemptResult

    folder = tmp_path / "attempt"
    folder.mkdir()
    (folder / "trajectory.json").write_text("{}")
    (folder / "link.json").symlink_to(folder / "trajectory.json")
    ok = AttemptResult.from_untrusted({"status": "submitted", "exit_status": "Submitted", "patch": "x",
                                       "trajectory": "trajectory.json", "duration_seconds": 3.0}, folder)
    assert (ok.status, ok.trajectory, ok.duration_seconds) == ("submitted", "trajectory.json", 3.0)
    for bad in ("../../secrets/credentials.txt", "/etc/passwd", "link.json", "missing.json", "a/../trajectory.json"):
        r = AttemptResult.from_untrusted({"status": "submitted", "trajectory": bad}, folder)
        assert r.trajectory == "", bad
    odd = AttemptResult.from_untrusted({"status": "submitted", "exit_status": "x" * 10_000, "error_class": "made_up",
                                        "duration_seconds": float("nan"), "model_calls": [{"prompt_tokens": -5}] * 3,
                                        "patch": 7, "overhead_seconds": True}, folder)
    assert len(odd.exit_status) == 200 and odd.error_class == "agent_error" and odd.duration_seconds is None
    assert odd.patch == "" and odd.overhead_seconds is None and odd.model_calls[0]["prompt_tokens"] is None
    for junk in (None, [], "submitted", {"status": "hacked"}):
        r = AttemptResult.from_untrusted(junk, folder)
        assert (r.status, r.error_class, r.exit_status) == ("error", "infra", "WorkerReplyInvalid")


def _tar(members: list[tuple[str, bytes | None]]) -> bytes:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_a_workers_archive_is_bounded_unpacked_and_never_writes_the_controllers_files(tmp_path, monkeypatch):
    from sweboard.errors import SweboardError
    from sweboard.executors import transfer

    monkeypatch.setattr(transfer, "MAX_FILE", 1000)
    monkeypatch.setattr(transfer, "MAX_UNPACKED", 3000)
    monkeypatch.setattr(transfer, "MAX_MEMBERS", 10)
    bomb = _tar([("agent.log", b"\0" * 1001)])
    assert len(bomb) < 200, "a small archive..."
    with pytest.raises(SweboardError, match="bytes unpacked"):
        transfer.unpack(bomb, tmp_path / "a")
    assert not (tmp_path / "a" / "agent.log").exists(), "nothing of a refused archive is written"
    with pytest.raises(SweboardError, match="unpacks to more than"):
        transfer.unpack(_tar([(f"f{i}", b"\0" * 900) for i in range(4)]), tmp_path / "b")
    with pytest.raises(SweboardError, match="more than 10 members"):
        transfer.unpack(_tar([(f"f{i}", b"") for i in range(11)]), tmp_path / "c")
    with pytest.raises(SweboardError, match="not a gzip tar"):
        transfer.unpack(b"not an archive", tmp_path / "d")
    skipped = transfer.unpack(_tar([("record.json", None), ("verdict.json", b"{}"), ("calls.jsonl", b"x"),
                                    ("trajectory.json", b"{}")]), tmp_path / "e")
    assert sorted(skipped) == ["calls.jsonl", "record.json", "verdict.json"]
    assert [p.name for p in (tmp_path / "e").iterdir()] == ["trajectory.json"]


def test_the_gateway_proxy_forwards_only_routes_the_controller_issued():
    from sweboard.executors.relay import GatewayProxy

    proxy = GatewayProxy(1)  # port 1: nothing listens; a refused path never gets that far
    route = "/a/0123456789abcdef/v1"
    assert proxy.post(route + "/chat/completions", {}, b"{}")[0] == 404, "a route nobody issued"
    proxy.allow(route)
    assert proxy.permitted(route + "/chat/completions")
    for other in (route + "/models", route + "/../x/chat/completions", "/a/ffffffffffffffff/v1/chat/completions",
                  "/admin", route + "/chat/completions/extra"):
        assert not proxy.permitted(other), other
        assert proxy.post(other, {}, b"{}")[0] == 404
    proxy.revoke(route)
    assert not proxy.permitted(route + "/chat/completions")


# --- the export publishes only what it should ---------------------------------------------------------
def _finished_run(home: Path, trajectory: str) -> None:
    run = home / "runs" / "leaky"
    attempt = run / "attempts" / "m" / "o__r-1" / "attempt-1"
    attempt.mkdir(parents=True)
    (attempt / "record.json").write_text(json.dumps({"status": "submitted", "exit_status": "Submitted", "patch": "d",
                                                     "trajectory": trajectory, "error_class": "", "usage": None,
                                                     "duration_seconds": 1.0, "error": ""}))
    (attempt / "sweagent").mkdir()
    (attempt / "sweagent" / "evil.traj").symlink_to(home / "secrets" / "credentials.txt")
    logs = run / "evaluation" / "m" / "e1" / "logs"
    logs.mkdir(parents=True)
    (logs / "test_output.txt").symlink_to(home / "secrets" / "credentials.txt")
    (logs / "run_instance.log").write_text(f"a log that quotes the key {SECRET}\n")
    (attempt / "verdict.json").write_text(json.dumps({"attempt": 1, "verdict": "resolved", "error_class": "",
                                                      "instance_log": "evaluation/m/e1/logs/run_instance.log"}))
    manifest = {"run_id": "leaky", "status": "finished", "created_at": "2026-12-01T00:00:00Z",
                "slice": {"instance_ids": ["o__r-1"], "split": "dev", "instance_ids_sha256": "x"},
                "dataset_lock": {"repo_id": "sweboard/offline-taskset", "revision": "bundled"}, "runner_config": {},
                "batches": {"m": {"model": {"id": "m", "provider": "x"}, "kind": "model", "runner": "mini",
                                  "status": "ok", "attempts_per_task": 1, "stop_after_resolved": True,
                                  "wall_seconds": 1.0, "set_aside": [],
                                  "attempts": {"o__r-1": [{"attempt": 1, "status": "submitted", "exit_status": "Submitted",
                                                           "error_class": "", "usage": None, "duration_seconds": 1.0,
                                                           "record": "attempts/m/o__r-1/attempt-1/record.json"}]}}},
                "evaluations": {"m": {"instances": {"o__r-1": [{"attempt": 1, "verdict": "resolved", "error_class": ""}]},
                                      "failures": [], "wall_seconds": 1.0}}}
    (run / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("trajectory", ["../../../../../secrets/credentials.txt", "/etc/hostname", "sweagent/evil.traj"])
def test_the_export_of_a_record_pointing_outside_its_attempt_holds_no_byte_of_the_credentials(home, trajectory):
    (home / "secrets" / "credentials.txt").write_text(f"OPENROUTER_API_KEY={SECRET}\n")
    _finished_run(home, trajectory)
    out = home / "export"
    proc = tool("export_submission.py", "--run-id", "leaky", "--model", "m", "--out", str(out),
                env={**os.environ, "SWEBOARD_HOME": str(home), "SWEBOARD_CREDENTIALS": str(home / "secrets" / "credentials.txt")})
    assert proc.returncode == 0, proc.stderr
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files and not any(p.is_symlink() for p in out.rglob("*"))
    for p in files:
        data = p.read_bytes()
        assert SECRET.encode() not in data and b"OPENROUTER_API_KEY" not in data, p
    assert not list(out.rglob("trajs/*")), "no trajectory of the attempt's own was there to export"
    assert not list(out.rglob("test_output.txt")), "a link is never followed"


# --- damaged state, dead processes --------------------------------------------------------------------
def test_a_ledger_missing_what_the_code_reads_is_damage_not_a_crash(tmp_path):
    from sweboard.catalog import Provider
    from sweboard.errors import SweboardError
    from sweboard.ledger import Ledger

    path = tmp_path / "ledger.json"
    provider = Provider("openrouter", None, None, None, dollar_cap=5.0, daily_call_quota=10)
    for damaged in ({"openrouter": {"dollars": 0.0}}, {"openrouter": {"calls_by_day": {}}}):
        path.write_text(json.dumps(damaged))
        with pytest.raises(SweboardError, match="damaged .*missing"):
            Ledger(path).reserve(provider, 0.01, "m")
        with pytest.raises(SweboardError, match="damaged"):
            Ledger(path).usage(provider)


def test_a_zombie_holds_neither_a_run_claim_nor_a_reservation(home):
    from sweboard import runclaim
    from sweboard.ledger import holder_alive
    from sweboard.processes import alive, process_start

    child = subprocess.Popen(["sleep", "30"])
    start = process_start(child.pid)
    runclaim.claim("zombie-run", child.pid)
    assert runclaim.holder("zombie-run") == child.pid
    os.kill(child.pid, signal.SIGKILL)
    assert wait_for(lambda: Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z", 10)
    try:
        assert not alive(child.pid) and process_start(child.pid) is None, "a zombie counted as alive"
        assert runclaim.holder("zombie-run") is None
        assert not holder_alive({"pid": child.pid, "pid_start": start, "dollars": 1.0, "expires": time.time() + 99})
        runclaim.claim("zombie-run", os.getpid())  # free to take at once
    finally:
        child.wait()


def test_an_imported_model_name_is_a_model_id_or_refused_before_anything_is_written(home, tmp_path):
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({"instance_id": "sweboard-fixtures__tinycalc-1", "model_patch": ""}) + "\n")
    env = {**os.environ, "SWEBOARD_HOME": str(home)}
    for name in ("../../etc", "a/b/c", "bad name", "x:y", "..", "a/.."):
        proc = tool("run_evaluation.py", "--predictions", str(preds), "--model-name", name, "--run-id", "imp",
                    "--offline", env=env)
        assert proc.returncode == 2 and proc.stderr.startswith("error: --model-name"), (name, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1
    assert not (home / "runs" / "imp").exists() and not list(home.rglob("etc"))


def test_check_catalog_renders_a_price_it_cannot_believe_as_unknown():
    from sweboard.catalog_check import _per_1k, render

    row = {"model": "m", "provider": "openrouter", "state": "served", "served_id": "m", "context_length": 8,
           "price_per_1k_input": _per_1k("NaN"), "price_per_1k_output": _per_1k("0.000001"),
           "catalog_price_per_1k_input": 0.1, "catalog_price_per_1k_output": 0.2}
    line = render([row]).splitlines()[1]
    assert "?,0.001 (0.1,0.2)" in line


def test_what_a_task_image_says_about_itself_is_checked_before_it_reaches_a_dockerfile():
    from sweboard.errors import SweboardError
    from sweboard.runners.sweagent_image import checked_facts, dockerfile

    good = checked_facts({"swerex": "no", "tools_python": "3.11", "tools_ready": "no",
                          "system_python": "/usr/bin/python3 3.11"}, "img")
    assert "RUN /usr/bin/python3 -m venv" in dockerfile("sha256:" + "0" * 64, good, "img")
    for bad in ({"system_python": "/tmp/a;id 3.11"}, {"system_python": "/usr/bin/python3 3.x"},
                {"tools_python": "3.11; rm -rf /"}, {"swerex": "maybe"}, {"system_python": "python3 3.11"}):
        with pytest.raises(SweboardError, match="^image img"):
            checked_facts({"swerex": "no", "tools_python": "3.11", "tools_ready": "no",
                           "system_python": "/usr/bin/python3 3.11", **bad}, "img")


# --- an agent killed from outside is infrastructure's failure -----------------------------------------
@pytest.mark.docker
def test_a_kill_9_of_the_fork_host_is_infrastructure_and_resume_runs_the_attempt_again(home, offline_images, tmp_path):
    from sweboard.testbench.provider import ProviderSettings, ScriptedProvider

    settings = ProviderSettings(latency_seconds=4.0, max_seconds=600)  # slow answers: the kill lands mid-attempt
    with ScriptedProvider(settings) as slow:
        env = {**os.environ, "SWEBOARD_CACHE": str(tmp_path / "cache"), "SWEBOARD_FORKHOST_IDLE": "30",
               "SWEBOARD_SCRIPTED_BASE_URL": slow.base_url}
        cmd = [sys.executable, str(ROOT / "tools" / "run_model_batch.py"), "--run-id", "killed", "--model",
               "scripted/slow", *ONE_TASK, "--set", "attempt_timeout_seconds=90"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        attempt = home / "runs" / "killed" / "attempts" / "scripted__slow" / "sweboard-fixtures__tinycalc-1" / "attempt-1"
        try:
            assert wait_for(lambda: (attempt / "calls.jsonl").is_file(), 120), "the attempt never made its first call"
            os.kill(fork_host(env)["pid"], signal.SIGKILL)  # the machine-wide host dies (OOM, a crash, kill -9)
            out, _ = proc.communicate(timeout=180)
        finally:
            if proc.poll() is None:
                proc.kill()
        record = json.loads((attempt / "record.json").read_text())
        assert (record["status"], record["error_class"], record["exit_status"]) == ("error", "infra", "AgentKilled"), out
        again = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0, again.stdout[-2000:]
    assert (attempt.parent / "attempt-1.infra-1").is_dir(), "the killed attempt is kept aside"
    assert json.loads((attempt / "record.json").read_text())["status"] == "submitted", "the host was started again"


# --- the official harness's containers ----------------------------------------------------------------
@pytest.mark.docker
def test_a_killed_gradings_containers_are_reaped_unless_a_grading_holds_the_task(home, offline_images):
    from sweboard import locks
    from sweboard.evaluation import leftover_containers
    from sweboard.executors.local import LocalExecutor
    from sweboard.testbench.taskset import image_name

    run = "reap"
    image = image_name("sweboard-fixtures__tinycalc-1")
    names = {}
    for n, iid in ((1, "sweboard-fixtures__tinycalc-1"), (2, "sweboard-fixtures__tinycalc-2")):
        work = home / "runs" / run / "evaluation" / "m" / f"e{n}"
        work.mkdir(parents=True)
        (work / "predictions.jsonl").write_text(json.dumps({"instance_id": iid}) + "\n")
        names[iid] = f"sweb.eval.{iid}.{run}.m.e{n}"
        subprocess.run(["docker", "run", "-d", "--network", "none", "--name", names[iid], image, "sleep", "300"],
                       check=True, capture_output=True)
    try:
        with locks.file_lock(home / "runs" / run / "evaluation" / "m" / ".lock-sweboard-fixtures__tinycalc-2"):
            found = leftover_containers(run, "m")
            assert found == [names["sweboard-fixtures__tinycalc-1"]], "a task being graded is left alone"
            assert LocalExecutor().reap_named(found) == 1
        left = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True).stdout
        assert names["sweboard-fixtures__tinycalc-1"] not in left and names["sweboard-fixtures__tinycalc-2"] in left
        (home / "runs" / run / "evaluation" / "m" / "e2" / "invocation.json").write_text("{}")
        assert names["sweboard-fixtures__tinycalc-2"] not in leftover_containers(run, "m"), \
            "a harness run that ended left nothing to reap"
    finally:
        subprocess.run(["docker", "rm", "-f", *names.values()], capture_output=True)
