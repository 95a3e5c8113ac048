"""Each worker node is a Docker host of its own (tools/ray_local_cluster.sh up: one bridge-less dockerd per
worker), so what happens between hosts of a real cluster happens here: an image missing on one node, a
node holding another image under the task's name, one node's engine stopping mid-run.

The tests run in file order on one cluster; the last one stops an engine of it.
"""

import json
import os
import signal
import subprocess
import sys

import pytest
from conftest import wait_for
from test_ray_cluster import ROOT, SLICE, attempt_tasks, cluster_down, cluster_up, labelled_containers, records, tool

pytestmark = [pytest.mark.docker, pytest.mark.slow]
TASK = "sweboard-fixtures__tinycalc-1"


@pytest.fixture(scope="module")
def cluster(docker_engine, offline_images):
    name = f"tests-engines-{os.getpid()}"
    state = cluster_up(name, workers=2, slots=1)
    yield state
    cluster_down(name)
    assert not any(os.path.exists(f"/proc/{w['engine']['pid']}") and _is_dockerd(w["engine"]["pid"])
                   for w in state["workers"]), "down left a worker's dockerd running"


def _is_dockerd(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0].endswith(b"dockerd")
    except OSError:
        return False


def on(engine: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "-H", engine["docker_host"], *args], capture_output=True, text=True, timeout=120)


def image_of(task: str) -> str:
    from sweboard.testbench.taskset import image_name

    return image_name(task)


def image_id(image: str, engine: dict | None = None) -> str:
    cli = ["docker", *(["-H", engine["docker_host"]] if engine else [])]
    return subprocess.run([*cli, "image", "inspect", "--format", "{{.Id}}", image], capture_output=True,
                          text=True).stdout.strip()


def batch(run_id: str, cluster: dict, *extra: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return tool("run_model_batch.py", "--run-id", run_id, "--model", "scripted/solver", *SLICE, "--instance-ids", TASK,
                "--cluster", cluster["address"], *extra, timeout=timeout)


def test_the_workers_engines_are_separate_and_bridge_less(cluster):
    engines = [w["engine"] for w in cluster["workers"]]
    assert len({e["docker_host"] for e in engines}) == 2 and len({e["data_root"] for e in engines}) == 2
    for engine in engines:
        info = json.loads(on(engine, "info", "--format", "{{json .}}").stdout)
        assert info["DockerRootDir"] == engine["data_root"]
        networks = on(engine, "network", "ls", "--format", "{{.Driver}}").stdout.split()
        assert "bridge" not in networks, networks  # --bridge=none: no network a container could join
        argv = open(f"/proc/{engine['pid']}/cmdline", "rb").read().split(b"\0")
        assert b"--iptables=false" in argv and not any(a.startswith(b"tcp://") for a in argv)


def test_an_image_missing_on_one_node_is_loaded_there_before_any_attempts_clock(home, provider, cluster):
    image = image_of(TASK)
    first = batch("present-1", cluster)  # a new engine holds nothing: both nodes get the image
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    engines = {w["node_id"]: w["engine"] for w in cluster["workers"]}
    assert all(image_id(image, e) == image_id(image) for e in engines.values()), "checked by image id"

    gone, kept = list(engines)
    assert on(engines[gone], "rmi", "-f", image).returncode == 0
    second = batch("present-2", cluster)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    lines = second.stdout.splitlines()
    loaded = [i for i, line in enumerate(lines) if "loaded from the controller's engine" in line]
    assert len(loaded) == 1 and gone[:8] in lines[loaded[0]], second.stdout[-3000:]
    first_attempt = next(i for i, line in enumerate(lines) if f"{TASK} #1:" in line)
    assert loaded[0] < first_attempt, "the image was made present before the attempt's clock started"
    assert image_id(image, engines[gone]) == image_id(image)
    assert all(r["status"] == "submitted" for r in records(home, "present-2"))


def test_batches_preparing_the_same_nodes_at_once_ship_a_missing_image_once(home, provider, cluster):
    image = image_of(TASK)
    engines = [w["engine"] for w in cluster["workers"]]
    for engine in engines:
        assert on(engine, "rmi", "-f", image).returncode == 0
    models = ["--model", "scripted/solver", "--model", "scripted/empty", "--model", "scripted/wrong"]
    ran = tool("run_models.py", "--run-id", "present-3", *SLICE, "--instance-ids", TASK, *models, "--jobs", "3",
               "--cluster", cluster["address"])
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    loaded = [line for line in ran.stdout.splitlines() if "loaded from the controller's engine" in line]
    assert len(loaded) == len(engines), loaded  # one load a node, not one a batch
    assert all(image_id(image, e) == image_id(image) for e in engines)


def test_a_node_holding_another_image_under_the_tasks_name_is_named_and_left_out(home, provider, cluster):
    image, other = image_of(TASK), image_of("sweboard-fixtures__datestamp-1")  # another repo: another image id
    odd, good = cluster["workers"][1], cluster["workers"][0]
    # the setup (not the mechanism under test): another task's image on the odd node, under this task's name
    save = subprocess.Popen(["docker", "save", other], stdout=subprocess.PIPE)
    load = subprocess.run(["docker", "-H", odd["engine"]["docker_host"], "load", "-q"], stdin=save.stdout,
                          capture_output=True, timeout=300)
    save.wait()
    assert load.returncode == 0, load.stderr
    on(odd["engine"], "rmi", "-f", image)
    assert on(odd["engine"], "tag", other, image).returncode == 0  # same name, other content
    assert image_id(image, odd["engine"]) != image_id(image)
    try:
        ran = batch("odd", cluster)
        assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
        assert f"node {odd['node_id'][:8]}: left out of this run" in ran.stdout, ran.stdout[-3000:]
        recs = records(home, "odd")
        assert recs and all(r["node"]["ray_node_id"] == good["node_id"] for r in recs), "nothing ran on the odd node"
        canaries = [json.loads(p.read_text())["node_id"] for p in (home / "runs" / "odd" / "nodes").glob("*/canary.json")]
        assert odd["node_id"] not in canaries
    finally:
        on(odd["engine"], "rmi", image)  # the next run loads the real one again


def test_an_engine_stopped_mid_run_costs_infra_and_resume_completes_elsewhere(home, cluster, monkeypatch, tmp_path):
    from sweboard.testbench.provider import ProviderSettings, ScriptedProvider

    settings = ProviderSettings(call_log=tmp_path / "slow-calls.jsonl", latency_seconds=2.0, max_seconds=600)
    with ScriptedProvider(settings) as slow:
        monkeypatch.setenv("SWEBOARD_SCRIPTED_BASE_URL", slow.base_url)
        args = ["--run-id", "engine-stop", "--model", "scripted/slow", *SLICE, "--cluster", cluster["address"],
                "--set", "attempt_timeout_seconds=120"]
        raylets = {w["raylet_pid"]: w for w in cluster["workers"]}
        run = subprocess.Popen([sys.executable, str(ROOT / "tools" / "run_model_batch.py"), *args],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert wait_for(lambda: slow.calls >= 2 and set(attempt_tasks().values()) >= set(raylets), 240), \
            (run.poll(), run.stdout.read() if run.poll() is not None else "")
        victim = next(iter(raylets.values()))
        os.kill(victim["engine"]["pid"], signal.SIGTERM)  # the dockerd the cluster's supervisor started for it
        out, _ = run.communicate(timeout=600)
        assert run.returncode == 0, out[-3000:]
        on_victim = [r for r in records(home, "engine-stop") if r["node"].get("ray_node_id") == victim["node_id"]]
        assert on_victim and all(r["error_class"] == "infra" for r in on_victim), on_victim
        assert {r["exit_status"] for r in on_victim} <= {"EngineLost", "EngineUnavailable"}

        resumed = tool("run_model_batch.py", *args, "--resume", timeout=900)
        assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
        assert f"node {victim['node_id'][:8]}: left out of this run" in resumed.stdout, resumed.stdout[-3000:]
        recs = [json.loads(p.read_text()) for p in (home / "runs" / "engine-stop" / "attempts").glob("*/*/attempt-1/record.json")]
        assert len(recs) == 4 and all(r["status"] == "submitted" for r in recs), [r["status"] for r in recs]
        assert all(r["node"]["ray_node_id"] != victim["node_id"] for r in recs), "completed elsewhere"
        entry = json.loads((home / "runs" / "engine-stop" / "manifest.json").read_text())["batches"]["scripted/slow"]
        assert entry["status"] == "ok" and {a["reason"] for a in entry["set_aside"]} == {"infra"}
        assert len(entry["set_aside"]) == len(on_victim), "the lost attempts are kept aside, counted as infra"
        graded = tool("run_evaluation.py", "--run-id", "engine-stop", "--cluster", cluster["address"])
        assert graded.returncode == 0, graded.stdout[-2000:] + graded.stderr[-2000:]
        verdicts = [json.loads(p.read_text())["verdict"]
                    for p in (home / "runs" / "engine-stop" / "attempts").glob("*/*/attempt-1/verdict.json")]
        assert sorted(verdicts) == ["resolved"] * 4
    assert wait_for(lambda: not attempt_tasks(), 30), "an attempt outlived its batch"
    assert labelled_containers("engine-stop", {"workers": [w for w in cluster["workers"] if w is not victim]}) == []


def _processes() -> dict[int, tuple[int, bytes]]:
    """PID -> (parent PID, command line) of every process now."""
    out = {}
    for proc in os.listdir("/proc"):
        if proc.isdigit():
            try:
                ppid = int(open(f"/proc/{proc}/stat").read().rsplit(")", 1)[1].split()[1])
                out[int(proc)] = (ppid, open(f"/proc/{proc}/cmdline", "rb").read())
            except (OSError, ValueError, IndexError):
                continue
    return out


def _descendants(root: int) -> set[int]:
    procs, found, todo = _processes(), set(), [root]
    while todo:
        parent = todo.pop()
        for pid, (ppid, _) in procs.items():
            if ppid == parent and pid not in found:
                found.add(pid)
                todo.append(pid)
    return found


def test_kill_9_of_the_head_then_resume_on_a_new_cluster_gives_the_same_board(home, docker_engine, offline_images,
                                                                               monkeypatch, tmp_path):
    """The head node dies (kill -9 of its GCS and raylet) mid-run: the controller's batch ends, `down` stops
    what the cluster had started, and `--resume` on a new cluster completes the run: the attempts finished
    before are not repeated, every verdict is the local run's, nothing is left running."""
    from sweboard.testbench.provider import ProviderSettings, ScriptedProvider

    settings = ProviderSettings(call_log=tmp_path / "slow-calls.jsonl", latency_seconds=2.0, max_seconds=600)
    with ScriptedProvider(settings) as slow:
        monkeypatch.setenv("SWEBOARD_SCRIPTED_BASE_URL", slow.base_url)
        first = cluster_up(f"tests-head-{os.getpid()}", workers=2, slots=1)
        old = _descendants(first["supervisor_pid"])
        try:
            args = ["--run-id", "head-k9", "--model", "scripted/slow", *SLICE, "--set", "attempt_timeout_seconds=120"]
            env = {**os.environ, "RAY_gcs_rpc_server_reconnect_timeout_s": "10"}  # the driver gives up sooner
            run = subprocess.Popen([sys.executable, str(ROOT / "tools" / "run_model_batch.py"), *args,
                                    "--cluster", first["address"]], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, env=env)
            records_dir = home / "runs" / "head-k9" / "attempts"
            assert wait_for(lambda: any(json.loads(p.read_text()).get("status") == "submitted"
                                        for p in records_dir.glob("*/*/attempt-1/record.json"))
                            and len(attempt_tasks()) >= 1, 300), (run.poll(), run.stdout.read() if run.poll() else "")
            workers = {w["raylet_pid"] for w in first["workers"]}
            head = [pid for pid, (ppid, cmd) in _processes().items() if ppid == first["supervisor_pid"]
                    and (b"gcs_server" in cmd or (b"raylet" in cmd.split(b"\0")[0] and pid not in workers))]
            assert len(head) == 2, head
            done_before = {p: p.read_bytes() for p in records_dir.glob("*/*/attempt-1/record.json")
                           if json.loads(p.read_text()).get("status") == "submitted"}
            for pid in head:
                os.kill(pid, signal.SIGKILL)
            out, _ = run.communicate(timeout=300)
            assert run.returncode != 0, "the batch cannot have finished without its cluster"
        finally:
            cluster_down(f"tests-head-{os.getpid()}")
        assert wait_for(lambda: not (old & set(_processes())), 60), "the dead cluster left processes running"

        second = cluster_up(f"tests-head2-{os.getpid()}", workers=2, slots=1)
        try:
            resumed = tool("run_model_batch.py", *args, "--cluster", second["address"], "--resume", timeout=900)
            assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
            graded = tool("run_evaluation.py", "--run-id", "head-k9", "--cluster", second["address"])
            assert graded.returncode == 0, graded.stdout[-2000:] + graded.stderr[-2000:]
        finally:
            cluster_down(f"tests-head2-{os.getpid()}")
    assert all(p.read_bytes() == data for p, data in done_before.items()), "a finished attempt ran again"
    recs = [json.loads(p.read_text()) for p in records_dir.glob("*/*/attempt-1/record.json")]
    assert len(recs) == 4 and all(r["status"] == "submitted" for r in recs)
    assert {r["node"]["ray_node_id"] for r in recs if r["node"]["ray_node_id"] not in
            {w["node_id"] for w in first["workers"]}} <= {w["node_id"] for w in second["workers"]}
    verdicts = sorted(json.loads(p.read_text())["verdict"] for p in records_dir.glob("*/*/attempt-1/verdict.json"))
    assert verdicts == ["resolved"] * 4  # the scripted slow model solves each task, as on the local executor
    assert not attempt_tasks() and labelled_containers("head-k9") == []
