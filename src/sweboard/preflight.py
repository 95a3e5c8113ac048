"""Preflight: before anything is spent, prove the real path on the run's own slice, split and runner.

Why: a missing key found after a 30-minute canary, an image SWE-agent cannot use, an evaluator
that cannot grade, or a runner that loses patches would otherwise be paid for, or be scored as
every model failing. Each step is one line with its time; the first failure stops the preflight
with one line that says what to do:

1. credentials: a key for every chosen model's provider (before anything slow);
2. probe: the provider answers a one-token request per model, through the metered gateway (so
   it is in the ledger); skipped with `--no-probe`;
3. images: every task image present or pulled; with SWE-agent, its derived images built;
4. canary: gold patches all resolve, empty patches none, naming each task that does not;
5. solver: the scripted solver (test equipment, no API cost) through the chosen runner on this
   slice, replaying each gold patch byte for byte as an agent would, must resolve every task the
   canary resolved: runner, container, patch extraction and grading proven together.

A passed preflight is written to `runs/<run_id>/preflight.json` (and into the run's manifest) and
not repeated on `--resume` unless a task image changed.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, replace
from urllib.parse import urlsplit

from sweboard.catalog import ModelEntry
from sweboard.errors import SweboardError
from sweboard.instances import Slice
from sweboard.manifest import run_dir
from sweboard.preflight_record import RECORD, image_ids, record_path
from sweboard.runconfig import RunnerConfig

SOLVER = "scripted/solver"


@dataclass
class Step:
    name: str
    ok: bool
    seconds: float
    detail: str

    def line(self) -> str:
        return f"preflight {self.name:11} {'ok  ' if self.ok else 'FAIL'} {self.seconds:7.1f}s  {self.detail}"



def credentials_step(models: list[ModelEntry]) -> str:
    from sweboard.credentials import provider_key

    needed = sorted({m.provider.api_key_env for m in models if m.calls_a_model and m.provider.api_key_env})
    for m in models:
        provider_key(m)  # raises with the variable's name
    return f"keys present for {len(models)} model{'' if len(models) == 1 else 's'} ({', '.join(needed) or 'none needed'})"


def _probe(run_id: str, models: list[ModelEntry], config: RunnerConfig) -> str:
    """One call of at most one token per model, through the gateway: metered, in the ledger."""
    from sweboard.credentials import provider_key
    from sweboard.runners.base import GATEWAY_KEY
    from sweboard.gateway import Gateway
    from sweboard.httpclient import connection
    from sweboard.ledger import Ledger

    calling = [m for m in models if m.calls_a_model]
    folder = run_dir(run_id) / "preflight-probe"
    folder.mkdir(parents=True, exist_ok=True)
    slowest = 0.0
    with Gateway(Ledger()) as gateway:
        for m in calling:
            base_url, _ = gateway.register(m, provider_key(m), folder / f"{m.slug}.calls.jsonl", 1)
            body = json.dumps({"model": m.id, "max_tokens": 1,
                               "messages": [{"role": "user", "content": "Reply with the word OK."}]}).encode()
            began = time.monotonic()
            try:
                parts = urlsplit(base_url + "/chat/completions")
                conn = connection(parts, config.gateway_upstream_timeout_seconds + 30)
                conn.request("POST", parts.path, body, {"Content-Type": "application/json",
                                                  "Authorization": f"Bearer {GATEWAY_KEY}"})
                resp = conn.getresponse()
                status, text = resp.status, resp.read(4000).decode(errors="replace")
                conn.close()
            finally:
                gateway.unregister(base_url)
            slowest = max(slowest, time.monotonic() - began)
            if status != 200:
                raise SweboardError(f"model {m.id}: the provider answered HTTP {status} to a one-token request "
                                    f"({' '.join(text.split())[:160]}); check the key, the model id and the provider")
    n = len(calling)
    return f"{n} model{'' if n == 1 else 's'} answered a one-token request (slowest {slowest:.1f}s)"


def _facts(rows: list[dict]) -> dict:
    """Each task image's id, registry digests and size on this engine: the run names what it graded on."""
    from sweboard.image_space import image_facts

    return {image: image_facts(image) for image in sorted({r["image"] for r in rows})}


def _images(rows: list[dict], runner: str, bundled: bool, log) -> tuple[str, dict]:
    from sweboard.task_images import ensure_images
    from sweboard.runners import sweagent_image

    if bundled:
        from sweboard.testbench import images

        images.build_all([r["instance_id"] for r in rows],
                         log=lambda s: None if s.startswith("cached") else log(f"  image {s}"))
    if not bundled:  # the bundled images are built here, a few MB: nothing to pull
        from sweboard import image_space

        images = sorted({r["image"] for r in rows})
        log("  " + image_space.check_fits(image_space.projection(images), *image_space.free_bytes()))
    problems = {i: p for i, p in ensure_images(rows, log=log).items() if p}
    if problems:
        first = next(iter(problems.values()))
        raise SweboardError(f"{len(problems)} task images not ready ({first}); pull or build them, then rerun")
    detail = f"{len(image_ids(rows))} task images present"
    derived = {}
    if runner == "sweagent":
        made = sweagent_image.ensure_all([r["image"] for r in rows], log)
        derived = sweagent_image.record(made)
        actions = [img.action for img in made.values()]
        detail += (f"; SWE-agent images: {actions.count('built')} built, {actions.count('cached')} cached, "
                   f"{actions.count('ready')} usable as they are")
    return detail, derived


def _history(rows: list[dict], mode: str, log) -> tuple[str, dict]:
    """The image history audit (validity/history.py): a leaky image stops the preflight under `strict`;
    under `sanitize` its derived image is built and audited clean."""
    from sweboard.validity import history

    images, blocked, record = history.plan_images(rows, mode, lambda s: log(f"  {s}"))
    if blocked:
        iid, why = next(iter(sorted(blocked.items())))
        raise SweboardError(f"{len(blocked)} of {len(rows)} task images reach beyond their base commit: {iid}: {why}")
    audits = {iid: history.HistoryAudit(**{k: v for k, v in r.items() if k in history.HistoryAudit.__dataclass_fields__})
              for iid, r in record.items()}
    detail = history.describe(audits)
    if images:
        detail += f"; {len(images)} run on derived images with only the base's history (history: sanitize)"
    return detail, record


def _canary(sl: Slice, run_id: str, log) -> tuple[str, dict]:
    from sweboard.canary import run_canary

    result = run_canary(sl, run_id, log=lambda s: None)
    if not result["passed"]:
        raise SweboardError(f"evaluator canary {run_id}: {result['detail']} (runs/{run_id}/evaluation has the logs); "
                            "fix the images or the slice before any model runs")
    return result["detail"], result


def waits_only(log):
    """A batch's log reduced to its waits: a check's batch says nothing but what it is waiting on."""
    return lambda line: log(line.strip()) if "waiting" in line or "waits" in line else None


def _solver(sl: Slice, run_id: str, runner_name: str, config: RunnerConfig, rows: list[dict], lock, log=print) -> str:
    """The scripted solver through the chosen runner on these rows (its own provider serves them)."""
    from sweboard.batch import BatchPlan, run_batch
    from sweboard.catalog import load_catalog
    from sweboard.evaluation import evaluate
    from sweboard.manifest import read_manifest, update_manifest
    from sweboard.outcomes import RESOLVED, task_outcomes
    from sweboard.runners import get_runner
    from sweboard.testbench.provider import ScriptedProvider

    model = load_catalog().get(SOLVER)
    solver_config = replace(config, attempts=1, stop_after_resolved=True, runner=runner_name, overrides=())
    saved = os.environ.get("SWEBOARD_SCRIPTED_BASE_URL")
    with ScriptedProvider(rows=rows) as provider:
        os.environ["SWEBOARD_SCRIPTED_BASE_URL"] = provider.base_url
        try:
            entry = run_batch(BatchPlan(run_id, model, sl, lock, rows, solver_config, run_kind="preflight"),
                              get_runner(runner_name), log=waits_only(log))
        finally:
            if saved is None:
                os.environ.pop("SWEBOARD_SCRIPTED_BASE_URL", None)
            else:
                os.environ["SWEBOARD_SCRIPTED_BASE_URL"] = saved
    from sweboard import executors

    with executors.opened() as executor:
        evaluate(run_id, model.id, executor, log=waits_only(log))
    update_manifest(run_id, lambda m: m.update(status="finished"))
    outcomes = task_outcomes(read_manifest(run_id), model.id)
    missed = [f"{iid} ({per[-1]['outcome'] if per else 'no attempt'})" for iid, per in sorted(outcomes.items())
              if not per or per[-1]["outcome"] != RESOLVED]
    if entry["status"] != "ok" or missed:
        raise SweboardError(f"scripted solver through {runner_name} (run {run_id}): batch {entry['status']}; "
                            f"not resolved: {', '.join(missed) or 'none'}; the runner, its container or patch "
                            "extraction is broken (see that run's attempts)")
    return f"scripted solver through {runner_name} resolved {len(outcomes)}/{len(outcomes)} tasks (run {run_id})"


def _fresh(run_id: str) -> str:
    """A run id not used yet (a preflight repeated after a failure, or after its images changed)."""
    n, candidate = 1, run_id
    while run_dir(candidate).exists():
        n += 1
        candidate = f"{run_id}-{n}"
    return candidate


def run(run_id: str, sl: Slice, models: list[ModelEntry], runner: str, config: RunnerConfig,
        probe: bool = True, log=print, no_probe_why: str = "--no-probe") -> dict:
    """Every step in order, stopping at the first failure; returns (and writes) the record."""
    from sweboard.dataset_lock import load_locked_rows

    steps: list[Step] = []
    extra: dict = {}
    lock, rows = load_locked_rows(sl.dataset_lock, sl.split, list(sl.instance_ids))

    def step(name, fn, doing: str = "") -> bool:
        if doing:  # a slow step says what it is doing before its one result line
            log(f"preflight {name:11} ...            {doing}")
        began = time.monotonic()
        try:
            detail = fn()
            ok = True
        except SweboardError as exc:
            detail, ok = str(exc), False
        if isinstance(detail, tuple):
            detail, extra[name] = detail
        steps.append(Step(name, ok, round(time.monotonic() - began, 1), detail))
        log(steps[-1].line())
        return ok

    run_dir(run_id).mkdir(parents=True, exist_ok=True)
    canary_run, solver_run = _fresh(f"{run_id}.canary"), _fresh(f"{run_id}.solver")
    ok = (step("credentials", lambda: credentials_step(models))
          and (step("probe", lambda: _probe(run_id, models, config)) if probe else
               step("probe", lambda: f"skipped ({no_probe_why})"))
          and step("images", lambda: _images(rows, runner, lock.source == "bundled", log),
                   f"checking {len({r['image'] for r in rows})} task images" + (" and SWE-agent's" if runner == "sweagent" else ""))
          and step("history", lambda: _history(rows, config.history, log),
                   f"auditing what {len(rows)} task images' /testbed reaches beyond its base commit")
          and step("canary", lambda: _canary(sl, canary_run, log), f"grading {len(rows)} gold and {len(rows)} empty patches")
          and step("solver", lambda: _solver(sl, solver_run, runner, config, rows, lock, log),
                   f"the scripted solver through {runner} on {len(rows)} tasks"))
    record = {"run_id": run_id, "passed": bool(ok), "runner": runner, "section": sl.section, "split": sl.split,
              "instance_ids_sha256": sl.ids_hash, "models": [m.id for m in models], "probe": probe,
              "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "steps": [asdict(s) for s in steps], "images": image_ids(rows), "image_facts": _facts(rows),
              "sweagent_images": extra.get("images", {}), "history": extra.get("history", {}),
              "canary_run": canary_run, "solver_run": solver_run}
    tmp = record_path(run_id).with_name(f".{RECORD}.tmp")
    tmp.write_text(json.dumps(record, indent=2))
    tmp.replace(record_path(run_id))
    return record
