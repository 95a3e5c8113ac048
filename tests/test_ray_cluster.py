"""Scale-out on a Ray cluster on this machine (a head and two workers on 127.0.0.1, each worker on a
Docker engine of its own).

The same offline slice and scripted models run once on the local executor and once with
`--cluster`: the verdicts must be the same row for row, the caps the controller holds must hold
across nodes, a lost worker must cost an `infra` attempt (never a second upstream call), and a
kill -9 of the controller must resume to the same board with nothing left behind.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import max_overlap, wait_for

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "ray_local_cluster.sh"
pytestmark = [pytest.mark.docker, pytest.mark.slow]
PLANTED = "sk-or-PLANTED-ray-cluster-3b9e10"
SLICE = ["--offline", "--instances", str(ROOT / "config" / "instances_i1.yaml")]


def cluster_up(name: str, workers: int = 2, slots: int = 2) -> dict:
    proc = subprocess.run([str(TOOL), "up", str(workers), "--slots", str(slots), "--eval-slots", "1", "--name", name],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    from sweboard.executors.local_cluster import read_state

    state = read_state(name)
    assert state and state["address"].startswith("127.0.0.1:") and proc.stdout.strip().endswith(state["address"])
    return state


def cluster_down(name: str) -> None:
    proc = subprocess.run([str(TOOL), "down", "--name", name], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def cluster(docker_engine, offline_images):
    name = f"tests-{os.getpid()}"
    state = cluster_up(name)
    yield state
    cluster_down(name)


def tool(name: str, *args, timeout=900):
    return subprocess.run([sys.executable, str(ROOT / "tools" / name), *args], capture_output=True, text=True,
                          timeout=timeout)


def verdicts(home: Path, run_id: str) -> dict:
    out = {}
    for path in (home / "runs" / run_id / "attempts").glob("*/*/attempt-*/verdict.json"):
        v = json.loads(path.read_text())
        out[(path.parts[-4], path.parts[-3], path.parts[-2])] = v["verdict"]
    return out


def records(home: Path, run_id: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in (home / "runs" / run_id / "attempts").glob("*/*/attempt-*/record.json")]


def labelled_containers(run_id: str, state: dict | None = None) -> list[str]:
    """The run's containers left on this machine's engine and on each worker's engine of `state`."""
    hosts = [None, *[w["engine"]["docker_host"] for w in (state or {}).get("workers", []) if w.get("engine")]]
    out = []
    for host in hosts:
        cli = ["docker", *(["-H", host] if host else [])]
        proc = subprocess.run([*cli, "ps", "-aq", "--filter", "label=sweboard.batch"], capture_output=True, text=True)
        ids = proc.stdout.split()
        if ids:
            labels = subprocess.run([*cli, "inspect", "--format", '{{index .Config.Labels "sweboard.batch"}}', *ids],
                                    capture_output=True, text=True).stdout.split()
            out += [label for label in labels if label.startswith(run_id.lower() + ".")]
    return out


def grep_planted(*roots: Path) -> list[str]:
    hits = []
    for root in roots:
        for p in root.rglob("*"):
            try:
                if p.is_file() and not p.is_symlink() and p.stat().st_size < 50_000_000 and PLANTED.encode() in p.read_bytes():
                    hits.append(str(p))
            except OSError:
                continue
    return hits


def ray_sessions() -> list[Path]:
    return sorted(Path("/tmp/ray").glob("session_*")) if Path("/tmp/ray").is_dir() else []


def set_provider(home: Path, **settings) -> None:
    path = home / "config" / "model_catalog.yaml"
    data = yaml.safe_load(path.read_text())
    data["providers"]["scripted"].update(settings)
    path.write_text(yaml.safe_dump(data))


def test_the_cluster_board_equals_the_local_board_and_the_caps_hold_across_nodes(home, provider, cluster):
    (home / "secrets" / "credentials.txt").write_text(f"OPENROUTER_API_KEY={PLANTED}\n")
    set_provider(home, max_concurrency=2)  # the controller's gateway holds it, whichever node asks
    models = ["--model", "scripted/solver", "--model", "scripted/wrong", "--model", "instant_empty_submit"]
    for run_id, extra in (("local", []), ("cluster", ["--cluster", cluster["address"]])):
        ran = tool("run_models.py", "--run-id", run_id, *SLICE, *models, "--attempts", "2", "--jobs", "8", *extra)
        assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
        graded = tool("run_evaluation.py", "--run-id", run_id, *extra)
        assert graded.returncode == 0, graded.stdout[-2000:] + graded.stderr[-2000:]
    local, spread = verdicts(home, "local"), verdicts(home, "cluster")
    assert local and spread == local, "the cluster's verdicts differ from the local run's"
    assert sorted(set(local.values())) == ["empty_patch", "resolved", "unresolved"]

    recs = [r for r in records(home, "cluster") if r["model"] != "instant_empty_submit"]
    nodes = {r["node"]["ray_node_id"] for r in recs}
    assert len(nodes) == 2 and set(nodes) <= {w["node_id"] for w in cluster["workers"]}, "both workers took attempts"
    assert all(r["node"]["docker_engine_id"] and r["node"]["image_id"].startswith("sha256:") for r in recs)
    assert all(r["node"]["docker_host"].startswith("unix://") and r["node"]["docker_root_dir"] for r in recs), \
        "an engine is named by its socket and data root too (two engines on one machine share an ID)"
    # each worker is a Docker host of its own: every attempt ran on its node's engine, two engines in all
    engine_of = {w["node_id"]: (w["engine"]["docker_host"], w["engine"]["data_root"]) for w in cluster["workers"]}
    assert {(r["node"]["docker_host"], r["node"]["docker_root_dir"]) for r in recs} == set(engine_of.values())
    assert all((r["node"]["docker_host"], r["node"]["docker_root_dir"]) == engine_of[r["node"]["ray_node_id"]]
               for r in recs)
    for path in (home / "runs" / "cluster" / "attempts").glob("scripted__*/*/attempt-*/verdict.json"):
        assert json.loads(path.read_text())["node"]["ray_node_id"] in nodes  # graded on a worker node
    # scripted's max_concurrency (2) held across nodes: never more attempts of its models at once
    assert max_overlap([r["ran_epoch"] for r in recs]) <= 2
    assert all(r["overhead_seconds"] is not None for r in recs), "the relay starts each attempt's clock"
    canaries = [json.loads(p.read_text()) for p in (home / "runs" / "cluster" / "nodes").glob("*/canary.json")]
    assert sorted(c["node_id"] for c in canaries) == sorted(w["node_id"] for w in cluster["workers"])
    assert all(c["passed"] and len(c["gold"]["resolved"]) == 4 and c["empty"]["resolved"] == [] for c in canaries)
    assert {c["gold"]["node"]["ray_node_id"] for c in canaries} == nodes, "each node graded its own canary"
    assert grep_planted(home / "runs", home / "predictions", *ray_sessions()) == []
    board = tool("generate_leaderboard.py")
    assert board.returncode == 0, board.stderr


def test_a_driver_with_cluster_runs_its_preflight_and_batch_on_the_nodes(home, cluster):
    """bootstrap_i0.sh --cluster: the preflight (canary, solver) and the batch through the nodes; the
    board's verdicts equal the same driver's run on the local executor."""
    for run_id, extra in (("drv-local", []), ("drv-cluster", ["--cluster", cluster["address"]])):
        proc = subprocess.run(["bash", str(ROOT / "tools" / "bootstrap_i0.sh"), "--offline", "--run-id", run_id,
                               "--model", "scripted/solver", *extra], capture_output=True, text=True, timeout=1500)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    pf = json.loads((home / "runs" / "drv-cluster" / "preflight.json").read_text())
    assert pf["passed"] and [s["name"] for s in pf["steps"]][-2:] == ["canary", "solver"]
    local, spread = verdicts(home, "drv-local"), verdicts(home, "drv-cluster")
    assert local and spread == local
    recs = [r for r in records(home, "drv-cluster") if r["model"] == "scripted/solver"]
    assert recs and all(r["node"]["ray_node_id"] in {w["node_id"] for w in cluster["workers"]} for r in recs)


@pytest.mark.parametrize("driver, models", [("run_i1.sh", ["scripted/solver", "scripted/wrong"]),
                                            ("run_i4.sh", ["scripted/solver"])])
def test_every_driver_runs_on_the_cluster_as_it_runs_here(home, cluster, driver, models):
    """run_i1.sh and run_i4.sh --execute --cluster: preflight (canary, solver replay) and batches through the
    nodes; the board's verdicts equal the same driver's run on the local executor."""
    picked = [x for m in models for x in ("--model", m)]
    stem = driver.split(".")[0].replace("_", "-")
    for run_id, extra in ((f"{stem}-local", []), (f"{stem}-cluster", ["--cluster", cluster["address"]])):
        proc = subprocess.run(["bash", str(ROOT / "tools" / driver), "--offline", "--execute", "--run-id", run_id,
                               "--attempts", "1", *picked, *extra], capture_output=True, text=True, timeout=1500)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    pf = json.loads((home / "runs" / f"{stem}-cluster" / "preflight.json").read_text())
    assert pf["passed"] and [s["name"] for s in pf["steps"]][-2:] == ["canary", "solver"]
    local, spread = verdicts(home, f"{stem}-local"), verdicts(home, f"{stem}-cluster")
    assert local and spread == local
    recs = [r for r in records(home, f"{stem}-cluster") if r["model"] in models]
    assert recs and all(r["node"]["ray_node_id"] in {w["node_id"] for w in cluster["workers"]} for r in recs)


def test_the_relay_carries_a_keyed_call_and_never_the_key(home, cluster, monkeypatch):
    """An agent on a worker calls through the loopback relay and Ray to the controller's gateway, which
    holds the real key; the upstream echoes the key back, and neither the answer nor Ray's logs hold it."""
    import ray

    sys.path.insert(0, str(Path(__file__).parent))
    from faultserver import FaultServer

    from sweboard.catalog import load_catalog
    from sweboard.executors.ray_cluster import RayExecutor
    from sweboard.gateway import Gateway, RetryPolicy
    from sweboard.ledger import Ledger

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with FaultServer(max_seconds=120) as upstream:
        monkeypatch.setenv("OPENROUTER_BASE_URL", upstream.base_url("echo-auth"))
        with Gateway(Ledger(home / "ledger.json"), RetryPolicy(max_retries=0)) as gw:
            url, route = gw.register(load_catalog().get("qwen/qwen3-coder"), PLANTED, home / "calls.jsonl", 64,
                                     secrets=[PLANTED])
            executor = RayExecutor(cluster["address"])
            try:
                port, path = int(url.split(":")[2].split("/")[0]), "/" + url.split("/", 3)[3]
                proxy = executor._proxy(port)
                ray.get(proxy.allow.remote(path))  # as the executor does for each attempt it sends
                status, body = ray.get(ray.remote(_call_through_relay).options(num_cpus=0, resources={"docker_slot": 1}).remote(
                    proxy, path))
            finally:
                executor.close()
                ray.shutdown()
    assert status == 200 and b"***" in body and PLANTED.encode() not in body
    assert upstream.requests and route.first_call.is_set()
    assert grep_planted(home, *ray_sessions()) == []


@pytest.fixture
def slow_provider(tmp_path, monkeypatch):
    from sweboard.testbench.provider import ProviderSettings, ScriptedProvider

    settings = ProviderSettings(call_log=tmp_path / "slow-calls.jsonl", latency_seconds=4.0, max_seconds=600)
    with ScriptedProvider(settings) as p:
        monkeypatch.setenv("SWEBOARD_SCRIPTED_BASE_URL", p.base_url)
        yield p


def attempt_tasks() -> dict[int, int]:
    """Ray worker processes running an attempt right now: PID -> parent PID (its node's raylet)."""
    out = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if (proc / "cmdline").read_bytes().startswith(b"ray::_attempt_task"):
                    out[int(proc.name)] = int((proc / "stat").read_text().split(")")[-1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    return out


def children(pid: int) -> list[int]:
    out = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if int((proc / "stat").read_text().split(")")[-1].split()[1]) == pid:
                    out.append(int(proc.name))
            except (OSError, ValueError, IndexError):
                continue
    return out


def test_a_worker_lost_mid_attempt_is_infra_never_billed_twice_and_resume_completes(home, slow_provider,
                                                                                   docker_engine, offline_images):
    name = f"tests-lost-{os.getpid()}"
    state = cluster_up(name, workers=2, slots=1)
    try:
        raylets = {w["raylet_pid"] for w in state["workers"]}
        args = ["--run-id", "lost", "--model", "scripted/slow", *SLICE, "--instance-ids", "sweboard-fixtures__tinycalc-1",
                "--cluster", state["address"], "--set", "attempt_timeout_seconds=120"]
        batch = subprocess.Popen([sys.executable, str(ROOT / "tools" / "run_model_batch.py"), *args],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert wait_for(lambda: slow_provider.calls >= 1 and any(p in raylets for p in attempt_tasks().values()), 120), \
            (batch.poll(), batch.stdout.read() if batch.poll() is not None else "")
        victim = next(p for p in attempt_tasks().values() if p in raylets)
        # the node is gone mid-call, as when its host dies: its raylet and every process it started
        for pid in [*children(victim), victim]:
            os.kill(pid, signal.SIGKILL)
        out, _ = batch.communicate(timeout=300)
        assert batch.returncode == 0, out[-3000:]
        rec = json.loads((home / "runs" / "lost" / "attempts" / "scripted__slow" / "sweboard-fixtures__tinycalc-1" /
                          "attempt-1" / "record.json").read_text())
        assert rec["exit_status"] == "NodeLost" and rec["error_class"] == "infra", rec
        # Ray's default (max_retries=3) would have run the attempt again on the other node: a submitted
        # record, after three calls more. Lost, it made one call and at most the one then in flight.
        time.sleep(6)
        assert slow_provider.calls <= 2, "the lost attempt ran again"
        manifest = json.loads((home / "runs" / "lost" / "manifest.json").read_text())
        assert manifest["batches"]["scripted/slow"]["status"] == "incomplete"

        resumed = tool("run_model_batch.py", *args, "--resume", timeout=600)
        assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-2000:]
        entry = json.loads((home / "runs" / "lost" / "manifest.json").read_text())["batches"]["scripted/slow"]
        assert entry["status"] == "ok"
        assert [a["reason"] for a in entry["set_aside"]] == ["infra"]
        rec = json.loads((home / "runs" / "lost" / "attempts" / "scripted__slow" / "sweboard-fixtures__tinycalc-1" /
                          "attempt-1" / "record.json").read_text())
        assert rec["status"] == "submitted" and rec["node"]["ray_node_id"] in {w["node_id"] for w in state["workers"]}
    finally:
        cluster_down(name)


def test_kill_9_of_the_controller_resumes_to_the_same_board_with_nothing_left(home, slow_provider, cluster):
    (home / "secrets" / "credentials.txt").write_text(f"OPENROUTER_API_KEY={PLANTED}\n")
    args = ["--run-id", "ctl-k9", "--model", "scripted/slow", *SLICE, "--cluster", cluster["address"],
            "--set", "attempt_timeout_seconds=120"]
    batch = subprocess.Popen([sys.executable, str(ROOT / "tools" / "run_model_batch.py"), *args],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(lambda: slow_provider.calls >= 2 and len(attempt_tasks()) >= 2, 120)
    os.kill(batch.pid, signal.SIGKILL)
    batch.wait()
    resumed = tool("run_model_batch.py", *args, "--resume", timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-2000:]
    graded = tool("run_evaluation.py", "--run-id", "ctl-k9", "--cluster", cluster["address"])
    assert graded.returncode == 0, graded.stdout[-2000:] + graded.stderr[-2000:]
    v = verdicts(home, "ctl-k9")
    assert len(v) == 4 and set(v.values()) == {"resolved"}, v
    entry = json.loads((home / "runs" / "ctl-k9" / "manifest.json").read_text())["batches"]["scripted/slow"]
    assert entry["status"] == "ok" and {a["reason"] for a in entry["set_aside"]} == {"interrupted"}
    assert labelled_containers("ctl-k9", cluster) == [], "the killed controller's containers were not reaped"
    assert wait_for(lambda: not attempt_tasks(), 30), "an attempt task outlived its controller"
    assert grep_planted(home / "runs", home / "predictions", *ray_sessions()) == []


def _call_through_relay(proxy, route: str):
    import http.client
    import threading

    from sweboard.executors.relay import LoopbackRelay

    started = threading.Event()
    relay = LoopbackRelay(proxy, route, started)
    try:
        base = relay.url.split("/", 3)
        conn = http.client.HTTPConnection("127.0.0.1", int(base[2].split(":")[1]), timeout=60)
        body = json.dumps({"model": "qwen/qwen3-coder", "messages": [{"role": "user", "content": "hi"}]})
        conn.request("POST", "/" + base[3] + "/chat/completions", body=body,
                     headers={"Content-Type": "application/json", "Authorization": "Bearer sk-sweboard-gateway"})
        reply = conn.getresponse()
        data = reply.read()
        # a wrong token on the same port is refused by the relay itself
        conn2 = http.client.HTTPConnection("127.0.0.1", int(base[2].split(":")[1]), timeout=60)
        conn2.request("POST", "/a/" + "0" * 32 + "/v1/chat/completions", body=body)
        assert conn2.getresponse().status == 404 and started.is_set()
        return reply.status, data
    finally:
        relay.close()


def test_a_node_that_grades_the_canary_wrong_stops_the_batch_by_name(home):
    """check_node's decision, with a harness stand-in that reports what a broken node would: gold unresolved."""
    from sweboard.errors import SweboardError
    from sweboard.executors.node_canary import check_node

    rows = [{"instance_id": "t-1", "patch": "diff --git a/x b/x\n"}, {"instance_id": "t-2", "patch": "diff\n"}]
    (home / "runs" / "r").mkdir()

    class Broken:
        def run_harness(self, cmd, workdir, near=None, soft=True):
            eval_id = cmd[cmd.index("--run_id") + 1]
            name = json.loads((workdir / "predictions.jsonl").read_text().splitlines()[0])["model_name_or_path"]
            resolved = ["t-1"] if name == "gold" else ["t-2"]
            (workdir / f"{name}.{eval_id}.json").write_text(json.dumps(
                {"resolved_ids": resolved, "unresolved_ids": [i for i in ("t-1", "t-2") if i not in resolved]}))
            return 0, 0.1, {"ray_node_id": near["ray_node_id"]}

    with pytest.raises(SweboardError, match=r"node abcdef012345 failed the evaluator canary \(gold resolved 1/2 "
                                            r"\(not: t-2\); empty patches resolved t-2\)"):
        check_node(Broken(), "r", "abcdef0123456789", rows, "test", {"t-1": "sha256:a", "t-2": "sha256:b"})
    record = json.loads((home / "runs" / "r" / "nodes" / "abcdef0123456789" / "canary.json").read_text())
    assert record["passed"] is False


PROBE_AS_STRANGER = r"""
import os, sys
from ray._raylet import GcsClient
try:
    GcsClient(address=sys.argv[1]).internal_kv_get(b"x", None, timeout=10)
    print("ANSWERED")
except Exception as exc:
    print("REFUSED", type(exc).__name__)
"""

JOIN_AS_STRANGER = r"""
import sys
import ray
try:
    ray.init(address=sys.argv[1], _node_ip_address="127.0.0.1", log_to_driver=False, logging_level="ERROR")
    @ray.remote(num_cpus=0, resources={"docker_slot": 1})
    def whoami():
        import os
        return os.getuid()
    print("RAN", ray.get(whoami.remote(), timeout=30))
except Exception as exc:
    print("REFUSED", type(exc).__name__)
"""


def test_another_user_can_neither_join_the_cluster_submit_a_task_nor_reach_its_files(cluster, tmp_path):
    """As uid 65534: no token (the file is ours, 0600, in a 0700 folder), so the GCS refuses it, a driver
    cannot connect or submit, Ray's sockets and logs are out of reach, and no argv holds the token."""
    token_file = Path(cluster["token_path"])
    token = token_file.read_text().strip()
    assert token_file.stat().st_mode & 0o777 == 0o600 and token_file.parent.stat().st_mode & 0o777 == 0o700
    temp = Path(cluster["temp_dir"])
    assert temp.stat().st_mode & 0o777 == 0o700 and temp.stat().st_uid == os.getuid()
    stranger = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
                "RAY_USAGE_STATS_ENABLED": "0"}
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-I", "-c"]
    for mode in ("disabled", "token"):
        env = {**stranger, "RAY_AUTH_MODE": mode, "RAY_AUTH_TOKEN_PATH": str(token_file)}
        probe = subprocess.run([*nobody, PROBE_AS_STRANGER, cluster["address"]], capture_output=True, text=True,
                               env=env, cwd=tmp_path, timeout=120)
        assert "ANSWERED" not in probe.stdout, f"the GCS answered another user (auth mode {mode})"
    joined = subprocess.run([*nobody, JOIN_AS_STRANGER, cluster["address"]], capture_output=True, text=True,
                            env={**stranger, "RAY_AUTH_MODE": "disabled"}, cwd=tmp_path, timeout=180)
    assert "RAN" not in joined.stdout and "REFUSED" in joined.stdout, joined.stdout + joined.stderr[-1500:]
    listing = subprocess.run([*nobody, f"import os; os.listdir({str(temp)!r})"], capture_output=True, text=True,
                             env=stranger, cwd=tmp_path)
    assert listing.returncode != 0 and "PermissionError" in listing.stderr, "Ray's temp folder is open to others"
    argv = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert token not in argv, "the cluster's token is on a command line"


OPEN_HEAD = r"""
import os, signal, sys, threading
os.environ.update({"RAY_AUTH_MODE": "disabled", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0",
                   "RAY_TMPDIR": sys.argv[1]})
from ray.cluster_utils import Cluster
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
c = Cluster(initialize_head=True, head_node_args={"node_ip_address": "127.0.0.1", "include_dashboard": False,
                                                   "num_cpus": 0, "temp_dir": os.path.join(sys.argv[1], "ray")})
print(c.address, flush=True)
stop.wait(300)
c.shutdown()
"""


def test_a_cluster_that_lets_anyone_in_is_refused_unless_the_operator_says_so(tmp_path):
    import tempfile

    temp = tempfile.mkdtemp(prefix="sweboard-ray-test-")
    head = subprocess.Popen([sys.executable, "-I", "-c", OPEN_HEAD, temp], stdout=subprocess.PIPE, text=True,
                            cwd=tmp_path)
    try:
        address = head.stdout.readline().strip()
        assert address.startswith("127.0.0.1:"), address
        from sweboard.errors import SweboardError
        from sweboard.executors.ray_auth import OPT_OUT, OPT_OUT_VALUE, require_token_auth

        with pytest.raises(SweboardError, match="accepts clients without a token.*README: More than one machine"):
            require_token_auth(address)
        refused = tool("run_evaluation.py", "--gold", "--offline", "--cluster", address, "--dry-run")
        assert refused.returncode == 0, "a dry run does not join"
        os.environ[OPT_OUT] = OPT_OUT_VALUE
        try:
            require_token_auth(address)  # the loudly named opt-out
        finally:
            del os.environ[OPT_OUT]
        for bad in ("auto", "ray://127.0.0.1:10001", "127.0.0.1", "host:port"):
            with pytest.raises(SweboardError, match="--cluster"):
                from sweboard.executors.ray_auth import check_address

                check_address(bad)
    finally:
        head.send_signal(signal.SIGTERM)
        head.wait(timeout=120)
        import shutil

        shutil.rmtree(temp, ignore_errors=True)
