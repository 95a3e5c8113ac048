"""The Ray executor: each attempt is one Ray task on a worker node with a Docker engine.

The process that calls it (a batch, the evaluator) is the controller: the only writer of
`runs/`, the only holder of keys, the gateway and the ledger. A worker runs today's runner
against its own Docker (`--network none --pull never` as locally), in a private temporary
folder, and returns the scrubbed folder; the controller writes it (`transfer.unpack`).

- `max_retries=0`: Ray would otherwise run a lost attempt again, and its calls cost money. A
  node lost mid-attempt becomes an `infra` attempt (`NodeLost`), never the model's failure;
  `--resume` runs it again.
- Capacity: a worker node offers `docker_slot` (attempts at once) and `eval_slot` (evaluator
  invocations at once); `jobs` stays the controller's in-flight window, and the provider's
  `max_concurrency` and the ledger stay in the controller's gateway, so caps hold cluster-wide.
- Ray stays on loopback unless told otherwise (`RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`,
  `RAY_USAGE_STATS_ENABLED=0`, node address 127.0.0.1 for a loopback cluster) and never
  mirrors workers' output to the driver (`log_to_driver=False`).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

for _key, _value in (("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0"), ("RAY_USAGE_STATS_ENABLED", "0")):
    os.environ.setdefault(_key, _value)

from sweboard.errors import SweboardError  # noqa: E402
from sweboard.executors import transfer  # noqa: E402
from sweboard.executors.ray_auth import check_address, prepare_environment, require_token_auth  # noqa: E402
from sweboard.runners.base import (ABORT, CONTAINER_LABEL, ENGINE_GONE, GATEWAY_KEY, STARTUP_LIMIT,  # noqa: E402
                                   Aborted, Attempt, AttemptResult, Runner)

_REMOTE: dict = {}


def _import_ray():
    try:
        import ray
    except ImportError:
        raise SweboardError("--cluster needs Ray: pip install -e '.[ray]' (ray==2.60.0)") from None
    return ray


def _loopback(address: str) -> bool:
    return address.rsplit(":", 1)[0] in ("127.0.0.1", "localhost")


def _connect(ray, address: str) -> None:
    """`ray.init`, standing in a private empty folder: Ray puts the driver's current folder first on every
    worker's `sys.path`, so a module another user left in ours would run on every node (isolation.py)."""
    from sweboard.isolation import empty_folder

    kwargs = {"_node_ip_address": "127.0.0.1"} if _loopback(address) else {}
    here = os.getcwd()
    os.chdir(empty_folder())
    try:
        ray.init(address=address, namespace="sweboard", log_to_driver=False, logging_level="WARNING", **kwargs)
    finally:
        os.chdir(here)


class RayExecutor:
    name = "ray"
    guards_cpu = False  # this machine's CPU is not the workers': each node's slots cap its own work

    def __init__(self, address: str):
        self.address = check_address(address)
        prepare_environment(self.address)  # token mode and the token's file, before Ray reads its config
        require_token_auth(self.address)  # a cluster that lets anyone in is refused (ray_auth.py)
        ray = _import_ray()
        self.ray = ray
        if not ray.is_initialized():
            _connect(ray, self.address)
        self.node_id = ray.get_runtime_context().get_node_id()
        self._lock = threading.Lock()
        self.left_out: dict[str, str] = {}  # node id -> why no attempt or grading goes there in this run
        self._checked_engines = False
        if not self._nodes("docker_slot"):
            raise SweboardError(f"--cluster {self.address}: no node offers the docker_slot resource; start each "
                                "worker with ray start --resources='{\"docker_slot\": J, \"eval_slot\": E}'")
        self._proxies: dict[int, object] = {}

    # -- the cluster -------------------------------------------------------------------------
    def _nodes(self, resource: str) -> list[dict]:
        return [n for n in self.ray.nodes() if n.get("Alive") and n.get("Resources", {}).get(resource, 0) > 0
                and n["NodeID"] not in self.left_out]

    def leave_out(self, node_id: str, why: str, log=None) -> None:
        """No further attempt or grading of this run goes to the node (its engine is gone, its images differ)."""
        with self._lock:
            if node_id not in self.left_out:
                self.left_out[node_id] = why
                if log:
                    log(f"  node {node_id[:8]}: left out of this run: {why}")

    def _placement(self) -> dict:
        """Task options that keep work off the nodes left out (Ray's node-id label, `!in(...)`)."""
        with self._lock:
            ids = sorted(self.left_out)
        return {"label_selector": {"ray.io/node-id": f"!in({','.join(ids)})"}} if ids else {}

    def _check_engines(self, log=None) -> None:
        """Once per process, before its first attempt or grading: a node whose Docker engine does not answer
        is left out (a node that lost its engine would otherwise take work only to fail it)."""
        if self._checked_engines:
            return
        self._checked_engines = True
        for node, ref in self._on_each_node(_engine_answers):
            try:
                answers = self._wait(ref, 60) is True
            except (self.ray.exceptions.RayError, TimeoutError):
                answers = False
            if not answers:
                self.leave_out(node["NodeID"], "its Docker engine does not answer", log)

    def _task(self, fn):
        """`fn` as a Ray remote function, made once per process (each new wrapper is exported again)."""
        if fn not in _REMOTE:
            _REMOTE[fn] = self.ray.remote(fn)
        return _REMOTE[fn]

    def _on(self, node_id: str, soft: bool = False):
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        return NodeAffinitySchedulingStrategy(node_id=node_id, soft=soft)

    def _proxy(self, port: int):
        """The batch gateway's proxy actor, on this (the controller's) node."""
        from sweboard.executors.relay import GatewayProxy

        with self._lock:
            if port not in self._proxies:
                actor = self.ray.remote(GatewayProxy).options(num_cpus=0, max_concurrency=512,
                                                              scheduling_strategy=self._on(self.node_id))
                proxy = actor.remote(port)
                self.ray.get(proxy.ready.remote())
                self._proxies[port] = proxy
            return self._proxies[port]

    def _wait(self, ref, limit: float | None = None, label: str | None = None):
        """The task's value; Ctrl-C / SIGTERM (ABORT) cancels it; past `limit` it is cancelled as lost."""
        began = time.monotonic()
        while True:
            ready, _ = self.ray.wait([ref], timeout=0.2)
            if ready:
                return self.ray.get(ref)
            if ABORT.is_set():
                self.ray.cancel(ref, force=True)
                if label:
                    self.reap(label)
                raise Aborted()
            if limit is not None and time.monotonic() - began > limit:
                self.ray.cancel(ref, force=True)
                raise TimeoutError(f"no answer from the worker within {limit:g}s")

    # -- the executor contract -----------------------------------------------------------------
    def prepare(self, rows: list[dict], runner: Runner | None, log, run_id: str | None = None,
                split: str | None = None) -> None:
        """On every node that runs attempts: each task image present (pulled there if needed) and a
        runner's derived images built, before any attempt's clock; then, with `run_id`, the evaluator
        canary on each node (`node_canary.py`): a node that grades gold or empty patches wrong stops
        the batch before it takes work."""
        images = sorted({r["image"] for r in rows})
        name = getattr(runner, "name", None)
        self._checked_engines = False
        self._check_engines(log)
        expected = self._make_present(images, log, run_id)
        ready = []
        for node, ref in self._on_each_node(_prepare_node, images, name):
            try:
                problems, image_ids = self._wait(ref)
            except self.ray.exceptions.RayError as exc:
                self.leave_out(node["NodeID"], f"not prepared ({type(exc).__name__})", log)
                continue
            from sweboard.executors.image_shipping import checked_ids

            image_ids = checked_ids(image_ids, images)
            bad = [p for p in (problems.values() if isinstance(problems, dict) else ["no answer"]) if p]
            bad += [f"its {i} is {image_ids[i]}, the controller's {expected[i]}" for i in images
                    if expected.get(i) and image_ids[i] and image_ids[i] != expected[i]]
            log(f"  node {node['NodeManagerAddress']} ({node['NodeID'][:8]}): {len(images) - len(bad)} of {len(images)} "
                f"task images ready" + (f"; {str(bad[0])[:300]}" if bad else ""))
            if bad:
                self.leave_out(node["NodeID"], f"{len(bad)} task image(s) not as on the controller", log)
            else:
                ready.append((node, image_ids))
        if not ready:
            raise SweboardError("no worker node has the task images ready (see the lines above); "
                                "nothing ran, nothing was billed")
        if run_id and all(r.get("patch") for r in rows):
            from concurrent.futures import ThreadPoolExecutor

            from sweboard.executors.node_canary import check_node

            # every node's canary at once (each grades on its own engine): the wait is the slowest node's,
            # not their sum; a node that passed earlier in this run, with the same image ids, is not regraded
            with ThreadPoolExecutor(max_workers=max(1, len(ready)), thread_name_prefix="node-canary") as pool:
                checks = [(node, pool.submit(check_node, self, run_id, node["NodeID"], rows, split or "test",
                                             {r["instance_id"]: image_ids.get(r["image"]) for r in rows}))
                          for node, image_ids in ready]
                for node, future in checks:
                    record = future.result()
                    log(f"  node {node['NodeID'][:8]}: evaluator canary passed ({record['detail']})")

    def _make_present(self, images: list[str], log, run_id: str | None = None) -> dict[str, str | None]:
        """Images built here and never pushed, missing on a node: loaded there from the controller's engine
        (image_shipping.py), all nodes at once. Returns the controller's image ids (what every node must hold).

        Why the run's lock: every model's batch prepares the same nodes at the same moment; unlocked, each
        saw the images missing and each shipped them (six batches loading the same 447 MiB onto each node
        at once took 100 s instead of one load's few). Under the lock the first batch loads, the others
        find the images there."""
        if not run_id:
            return self._ship_missing(images, log)
        from sweboard.locks import file_lock
        from sweboard.manifest import run_dir

        with file_lock(run_dir(run_id) / "nodes" / ".images.lock"):  # its folder made by the lock, 0600, no symlink
            return self._ship_missing(images, log)

    def _ship_missing(self, images: list[str], log) -> dict[str, str | None]:
        from sweboard.executors import image_shipping as shipping

        mine = shipping.controller_images(images)
        expected = {i: image for i, (image, _) in mine.items()}
        asked = self._on_each_node(shipping.node_image_ids, images)
        needs = {}
        for node, ref in asked:
            try:
                theirs = shipping.checked_ids(self._wait(ref, 120), images)
            except (self.ray.exceptions.RayError, TimeoutError):
                continue  # prepare names the node
            missing = tuple(i for i in images if theirs[i] is None and mine[i][0] and not mine[i][1])
            if missing:
                needs.setdefault(missing, []).append(node)
        for missing, nodes in needs.items():
            began = time.monotonic()
            pieces, size = shipping.save_in_pieces(self.ray, list(missing))
            loads = [(n, self._task(shipping.load_pieces).options(
                num_cpus=0, max_retries=0, scheduling_strategy=self._on(n["NodeID"])).remote(pieces, list(missing)))
                for n in nodes]
            for node, ref in loads:
                try:
                    self._wait(ref, 3600)
                    log(f"  node {node['NodeID'][:8]}: {shipping.describe(len(missing), size, time.monotonic() - began)}")
                except (self.ray.exceptions.RayError, TimeoutError) as exc:
                    log(f"  node {node['NodeID'][:8]}: loading {len(missing)} image(s) failed ({str(exc)[-200:]})")
            del pieces
        return expected

    def _on_each_node(self, fn, *args) -> list[tuple[dict, object]]:
        """(node, task ref) of `fn(*args)` started on every node that runs attempts, all at once."""
        nodes = self._nodes("docker_slot")
        return [(n, self._task(fn).options(num_cpus=0, max_retries=0, scheduling_strategy=self._on(n["NodeID"]))
                 .remote(*args)) for n in nodes]

    def plan_images(self, rows: list[dict], mode: str, log) -> tuple[dict, dict, dict]:
        """The history audit (and sanitized images) on every node that runs attempts: each node builds its own
        derived images; a task whose nodes disagree (different image ids, different findings) does not run."""
        answers = []
        for node, ref in self._on_each_node(_plan_images_node, rows, mode):
            try:
                answers.append(self._wait(ref))
            except self.ray.exceptions.RayError as exc:
                log(f"  node {node['NodeID'][:8]}: history audit failed ({type(exc).__name__})")
        return merge_image_plans(answers, [r["instance_id"] for r in rows])

    def run(self, attempt: Attempt, runner: Runner, api_key: str | None,
            secrets: list[str]) -> tuple[AttemptResult, dict]:
        if attempt.model.is_baseline:  # no container, no call: nothing to send anywhere
            from sweboard.executors.local import LocalExecutor

            return LocalExecutor().run(attempt, runner, api_key, secrets)
        if api_key not in (None, GATEWAY_KEY):
            raise SweboardError("the Ray executor carries no provider key: attempts must go through the gateway")
        proxy, route = None, None
        if attempt.base_url:
            from urllib.parse import urlsplit

            parts = urlsplit(attempt.base_url)
            proxy, route = self._proxy(parts.port), parts.path
        spec = replace(attempt, started=None, reached=None, base_url=None)
        if proxy is not None:
            self.ray.get(proxy.allow.remote(route))  # the proxy forwards only routes issued like this one
        self._check_engines()  # once per process, before the first attempt's submit time
        submitted = time.time()
        try:
            ref = self._task(_attempt_task).options(
                num_cpus=0, resources={"docker_slot": 1}, max_retries=0, retry_exceptions=False, **self._placement(),
            ).remote(spec, runner.name, proxy, route)
            limit = attempt.timeout_seconds + STARTUP_LIMIT + 600
            answer = self._wait(ref, limit, label=f"{CONTAINER_LABEL}={attempt.uid}")
            returned = time.time()
            result, folder, node = answer if isinstance(answer, tuple) and len(answer) == 3 else (None, b"", None)
        except self.ray.exceptions.RayTaskError as exc:  # our own code raised there: as it would here
            raise exc.as_instanceof_cause() from None
        except (self.ray.exceptions.RayError, TimeoutError) as exc:
            # the node, its raylet or the worker process went away: infrastructure, never the model's
            return (AttemptResult("error", "NodeLost", "", "infra", f"worker lost mid-attempt ({type(exc).__name__}); "
                                  "--resume runs the attempt again", None), {"ray_node_id": None, "lost": True})
        finally:
            if proxy is not None:
                self.ray.get(proxy.revoke.remote(route))
        try:
            transfer.unpack(folder if isinstance(folder, bytes) else b"", attempt.out_dir)
        except SweboardError as exc:  # an archive over its limits, or not one: the worker's failure
            return (AttemptResult("error", "WorkerReplyInvalid", "", "infra", str(exc)[:500], None),
                    transfer.node_facts(node))
        from sweboard.runners.base import scrub_files

        scrub_files(attempt.out_dir, secrets)
        node = transfer.node_facts(node)
        result = AttemptResult.from_untrusted(result, attempt.out_dir)
        if result.exit_status in ENGINE_GONE and node.get("ray_node_id"):
            self.leave_out(node["ray_node_id"], "its Docker engine stopped answering")
        # what Ray adds to the attempt: submit -> running on the worker, and its answer back here
        # (wall clocks of two machines: exact on one, as good as their clock sync across hosts)
        span = node.pop("task_epoch", None)
        if span:
            node["ray_overhead_seconds"] = round(max(0.0, span[0] - submitted) + max(0.0, returned - span[1]), 3)
        return result, node

    def run_harness(self, cmd: list[str], workdir: Path, near: dict | None = None,
                    soft: bool = True) -> tuple[int, float, dict]:
        """The unmodified harness command, on a node with an `eval_slot` (the one the attempt ran on
        when it can: its image is there), in a private folder there; its outputs come back here."""
        inputs = {flag: Path(cmd[cmd.index(flag) + 1]) for flag in ("--dataset_name", "--predictions_path")}
        payload = {flag: (path.name, path.read_bytes()) for flag, path in inputs.items()}
        self._check_engines()
        options = {"num_cpus": 0, "resources": {"eval_slot": 1}, "max_retries": 0, **self._placement()}
        if near and near.get("ray_node_id") and near["ray_node_id"] not in self.left_out:
            options["scheduling_strategy"] = self._on(near["ray_node_id"], soft=soft)
        ref = self._task(_harness_task).options(**options).remote(cmd[1:], payload)
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            answer = self._wait(ref)
        except self.ray.exceptions.RayError as exc:
            (workdir / "evaluator.log").write_text(f"$ {' '.join(cmd)}\nworker lost ({type(exc).__name__})\n")
            return 1, 0.0, {"ray_node_id": None, "lost": True}
        from sweboard.untrusted import finite

        code, seconds, folder, node = answer if isinstance(answer, tuple) and len(answer) == 4 else (1, 0.0, b"", None)
        try:
            transfer.unpack(folder if isinstance(folder, bytes) else b"", workdir)
        except SweboardError as exc:  # the worker's outputs are not usable: this harness run graded nothing
            (workdir / "evaluator.log").write_text(f"$ {' '.join(cmd)}\nthe worker's outputs were refused: {exc}\n")
            return 1, 0.0, transfer.node_facts(node)
        code = code if isinstance(code, int) and not isinstance(code, bool) else 1
        return code, finite(seconds, 0, 1e7) or 0.0, transfer.node_facts(node)

    def reap(self, label: str) -> int:
        """Remove the labelled containers on every live node with a Docker engine."""
        return self._on_every_node(_reap_node, label)

    def reap_named(self, names: list[str]) -> int:
        """Remove the harness's containers of these names on every live node with a Docker engine."""
        return self._on_every_node(_reap_named_node, list(names)) if names else 0

    def _on_every_node(self, fn, argument) -> int:
        refs = [self._task(fn).options(num_cpus=0, max_retries=0,
                                       scheduling_strategy=self._on(n["NodeID"])).remote(argument)
                for n in self._nodes("docker_slot")]
        removed = 0
        for ref in refs:
            try:
                count = self.ray.get(ref, timeout=180)
                removed += count if isinstance(count, int) and not isinstance(count, bool) else 0
            except Exception:  # noqa: BLE001 - a node that cannot answer has nothing we can remove
                pass
        return removed

    def close(self) -> None:
        for proxy in self._proxies.values():
            self.ray.kill(proxy)
        self._proxies.clear()


# -- what runs on a worker ------------------------------------------------------------------------
def _node_id() -> str:
    import ray

    return ray.get_runtime_context().get_node_id()


def _attempt_task(spec: Attempt, runner_name: str, proxy, route: str | None):
    """One attempt on this node: a private folder, a loopback relay to the controller's gateway,
    today's runner; returns (result, the scrubbed folder as an archive, where it ran)."""
    from sweboard.attempt import node_facts, run_attempt
    from sweboard.executors.relay import LoopbackRelay
    from sweboard.runners import get_runner

    began = time.time()
    out = Path(tempfile.mkdtemp(prefix="sweboard-attempt-"))
    started, reached = threading.Event(), threading.Event()
    relay = LoopbackRelay(proxy, route, started, reached) if proxy is not None else None
    try:
        attempt = replace(spec, out_dir=out, base_url=relay.url if relay else None,
                          started=started if relay else None, reached=reached if relay else None)
        runner = get_runner(runner_name)
        if hasattr(runner, "prepare_images"):
            try:
                runner.prepare_images([spec.row["image"]], log=lambda line: None)  # reused when built already
            except SweboardError:
                pass  # the attempt reports it as infrastructure's failure
        result = run_attempt(attempt, runner, GATEWAY_KEY if relay else None, [])
        folder, node = transfer.pack(out), node_facts(spec.row["image"], _node_id())
        return result.to_dict(), folder, {**node, "task_epoch": [began, time.time()]}
    finally:
        if relay is not None:
            relay.close()
        shutil.rmtree(out, ignore_errors=True)


def _harness_task(args: list[str], payload: dict[str, tuple[str, bytes]]):
    """The official evaluator on this node, in a private folder; returns its outputs as an archive."""
    from sweboard.attempt import node_facts
    from sweboard.harness import run_harness

    work = Path(tempfile.mkdtemp(prefix="sweboard-eval-"))
    try:
        inputs = work / ".inputs"
        inputs.mkdir()
        args = list(args)
        for flag, (name, data) in payload.items():  # same file names: the harness reads a local dataset by its suffix
            (inputs / flag.strip("-")).mkdir()
            path = inputs / flag.strip("-") / name
            path.write_bytes(data)
            args[args.index(flag) + 1] = str(path)
        code, seconds = run_harness([sys.executable, *args], work)  # warm (a fork of this node's host) by default
        return code, seconds, transfer.pack(work, skip=(".inputs", "harness_argv.json")), node_facts(None, _node_id())
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _prepare_node(images: list[str], runner_name: str | None) -> tuple[dict[str, str | None], dict[str, str | None]]:
    from sweboard.task_images import ensure_images
    from sweboard.dockerutil import image_id
    from sweboard.runners import get_runner

    problems = ensure_images([{"image": i} for i in images], log=lambda line: None)
    if runner_name:
        runner = get_runner(runner_name)
        if hasattr(runner, "prepare"):
            runner.prepare()  # e.g. this machine's warm fork host, before any attempt's clock
        if hasattr(runner, "prepare_images"):
            try:
                runner.prepare_images([i for i, p in problems.items() if p is None], log=lambda line: None)
            except SweboardError as exc:
                problems = {**problems, "(derived)": str(exc)}
    return problems, {i: image_id(i) for i in images}


def _plan_images_node(rows: list[dict], mode: str):
    from sweboard.validity.history import plan_images

    return plan_images(rows, mode)


def merge_image_plans(answers: list, instance_ids: list[str]) -> tuple[dict, dict, dict]:
    """The nodes' answers as one plan, taken as data: a task runs only where every node agrees on its image."""
    images, blocked, record = {}, {}, {}
    if not answers:
        return {}, {iid: "no node answered the history audit" for iid in instance_ids}, {}
    for iid in instance_ids:
        seen = [(a[0].get(iid) if isinstance(a, tuple) and len(a) == 3 and isinstance(a[0], dict) else None,
                 a[1].get(iid) if isinstance(a, tuple) and len(a) == 3 and isinstance(a[1], dict) else "no answer")
                for a in answers]
        if len(set(seen)) != 1:
            blocked[iid] = "the nodes disagree on this task's image history (different images on different hosts?)"
            continue
        image, why = seen[0]
        if why:
            blocked[iid] = str(why)[:500]
        elif isinstance(image, str) and image.startswith("sweboard-sanitized/"):
            images[iid] = image
        first = answers[0][2] if isinstance(answers[0], tuple) and len(answers[0]) == 3 else {}
        record[iid] = first.get(iid) if isinstance(first, dict) else None
    return images, blocked, record


def _engine_answers() -> bool:
    from sweboard.dockerutil import engine_version

    return engine_version() is not None


def _reap_named_node(names: list[str]) -> int:
    from sweboard.dockerutil import remove_named_containers

    return remove_named_containers(names)


def _reap_node(label: str) -> int:
    from sweboard.dockerutil import remove_labelled_containers

    return remove_labelled_containers(label)
