"""One way in: every entry point builds the same run request and passes the same validation.

Why: when each tool parsed and plumbed its own options, a rule written once held at one entry point
and not at the others (`--resume` of a mistyped id started a new run through one tool and was
refused by another; selection flags were dropped on the way to the batches). Now each tool says
which parts of a request it takes (`add_arguments(parser, *parts)`), turns its arguments into a
`RunRequest` (`from_args`) and calls `validate`, which holds every rule:

- a run id is 1-100 letters, digits, `.`, `_`, `-`, starting with a letter or digit;
- a run is started once its claim, its preflight or its manifest exists (the preflight is part of
  the run); `--resume` continues only a started run, and without `--resume` a started run is
  refused, unless the process asking belongs to the session that holds it (a driver's batches);
- who holds a run is checked before whether it exists: a second driver of a run in progress is
  told who runs it, never that the run is missing;
- the slice is the same everywhere: `--instances FILE` (default `config/instances_i1.yaml`),
  `--section`/`--offline`, then `--instance-ids`, `--filter`, `--slice`, honoured by every tool
  and passed on exactly;
- a resumed run keeps its settings and its task selection; a preflight counts only for the task
  selection it checked;
- settings (`--set`, `--runner`, `--attempts`, `--all-attempts`, `--jobs`) go through one loader
  with one set of bounds.

A tool that needs nothing of a part simply does not add it; a new tool gets every rule by building
its request here.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from sweboard.errors import SweboardError
from sweboard.instances import same_selection
from sweboard.runconfig import same_settings

RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
DEFAULT_SLICE = "instances_i1.yaml"  # the plan's working slice; the i0 and i3 drivers name their own
PARTS = ("run", "slice", "models", "model", "settings", "jobs", "cluster", "probe")


@dataclass(frozen=True)
class RunRequest:
    """What an entry point was asked to do, as given (validated by `validate`)."""

    tool: str  # the entry point, for messages
    parts: tuple[str, ...] = ()  # which parts of a request this tool takes (PARTS)
    run_id: str | None = None
    resume: bool = False
    dry_run: bool = False
    writes: bool = True  # False for tools that only read a run (export, compare): no claim, no new run
    existing: bool = False  # the run must exist already (grading, finishing, exporting): never created here
    instances: Path | None = None  # slice file
    section: str | None = None
    offline: bool = False
    instance_ids: tuple[str, ...] = ()
    pattern: str | None = None  # --filter
    span: str | None = None  # --slice START:STOP
    models: tuple[str, ...] = ()
    runner: str | None = None
    attempts: int | None = None
    all_attempts: bool = False
    settings: tuple[str, ...] = ()  # --set KEY=VALUE, as typed
    jobs: int | None = None
    cluster: str | None = None
    probe: bool = True
    calls_models: bool = False  # this entry point sends the models' calls now (a batch): each needs its URL
    extra_settings: dict = field(default_factory=dict)  # what the entry point itself sets (a driver's 90 s)


@dataclass
class Checked:
    """A request that passed every rule, with what validation resolved (read once, passed down)."""

    request: RunRequest
    slice: object = None  # instances.Slice
    config: object = None  # runconfig.RunnerConfig
    models: list = field(default_factory=list)  # catalog.ModelEntry
    manifest: dict | None = None  # the run's, when it exists
    started: bool = False
    in_session: bool = False  # this process belongs to the session that holds the run

    @property
    def run_id(self) -> str | None:
        return self.request.run_id

    @property
    def finished(self) -> bool:
        return bool(self.manifest and self.manifest.get("status") == "finished")


# --- parsing ----------------------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser, *parts: str, run_required: bool = True, resumable: bool = True) -> None:
    """The request's flags for the parts this tool takes: the same names, help and defaults everywhere."""
    unknown = set(parts) - set(PARTS)
    assert not unknown, unknown
    if "run" in parts:
        p.add_argument("--run-id", required=run_required, help="the run to create or (with --resume) continue")
        if resumable:
            p.add_argument("--resume", action="store_true", help="continue a started run; finished attempts are skipped")
    if "slice" in parts:
        p.add_argument("--instances", type=Path, default=None, help=f"slice file (default: config/{DEFAULT_SLICE})")
        p.add_argument("--section", default=None, help="section of the slice file: 'swe-bench-lite' (default) or 'offline'")
        p.add_argument("--offline", action="store_true", help="shorthand for --section offline (bundled test task set)")
        p.add_argument("--instance-ids", nargs="+", metavar="ID", help="only these tasks of the slice")
        p.add_argument("--filter", metavar="REGEX", help="only the slice's tasks whose id matches (re.search)")
        p.add_argument("--slice", metavar="START:STOP", help="only these positions of the slice (e.g. 0:5)")
    if "models" in parts:
        p.add_argument("--model", action="append", default=[], help="model id from config/model_catalog.yaml (repeat)")
    if "model" in parts:
        p.add_argument("--model", required=True, help="model id from config/model_catalog.yaml")
    if "settings" in parts:
        p.add_argument("--runner", help="mini or sweagent (overrides config/sweagent.yaml's runner)")
        p.add_argument("--attempts", type=int, help="K attempts per task, 1-3 (default: config/sweagent.yaml's attempts)")
        p.add_argument("--all-attempts", action="store_true",
                       help="run all K attempts (unbiased pass@k) instead of stopping at the first resolved")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a setting of config/sweagent.yaml")
    if "jobs" in parts:
        p.add_argument("--jobs", type=int, help="agent attempts at once across all models (default config/sweagent.yaml's "
                       "jobs, 8); 1 runs the models one after another, one attempt at a time")
    if "cluster" in parts:
        p.add_argument("--cluster", metavar="ADDRESS", help=(
            "run attempts and gradings on a Ray cluster that requires a token: HOST:PORT of its head; keys, gateway "
            "and records stay here (pip install -e '.[ray]'; README: More than one machine)"))
    if "probe" in parts:
        p.add_argument("--no-probe", action="store_true", help="no one-token request per model in the preflight")


def from_args(tool: str, args: argparse.Namespace, *parts: str, writes: bool = True, **extra) -> RunRequest:
    """The request an entry point's parsed arguments make."""
    get = lambda name, default=None: getattr(args, name, default)  # noqa: E731
    models = get("model") or ()
    return RunRequest(
        tool=tool, parts=parts, run_id=get("run_id"), resume=bool(get("resume", False)),
        dry_run=bool(get("dry_run", False)), writes=writes, instances=get("instances"), section=get("section"),
        offline=bool(get("offline", False)), instance_ids=tuple(get("instance_ids") or ()), pattern=get("filter"),
        span=get("slice"), models=tuple([models] if isinstance(models, str) else models), runner=get("runner"),
        attempts=get("attempts"), all_attempts=bool(get("all_attempts", False)), settings=tuple(get("set") or ()),
        jobs=get("jobs"), cluster=get("cluster"), probe=not get("no_probe", False), **extra)


# --- the rules --------------------------------------------------------------------------------------
def check_run_id(run_id: str, flag: str = "--run-id") -> str:
    """Run ids become folder names under runs/ and predictions/: nothing that could leave them."""
    if not isinstance(run_id, str) or not RUN_ID_RE.fullmatch(run_id) or ".." in run_id:
        raise SweboardError(f"{flag} {run_id!r}: expected 1-100 letters, digits, '.', '_' or '-', "
                            "starting with a letter or digit")
    return run_id


def settings_overrides(req: RunRequest) -> dict:
    """--set KEY=VALUE pairs, then what the named flags say (they win over --set)."""
    out = dict(req.extra_settings)
    for pair in req.settings:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SweboardError(f"--set {pair!r}: expected KEY=VALUE (a setting of config/sweagent.yaml)")
        out[key.strip()] = value.strip()
    if req.runner is not None:
        if req.runner not in ("mini", "sweagent"):
            raise SweboardError(f"--runner {req.runner!r}: expected mini or sweagent")
        out["runner"] = req.runner
    if req.attempts is not None:
        if not 1 <= req.attempts <= 3:
            raise SweboardError(f"--attempts {req.attempts}: expected 1, 2 or 3 (the plan allows K=3 at most)")
        out["attempts"] = req.attempts
    if req.all_attempts:
        out["stop_after_resolved"] = "false"
    if req.jobs is not None:
        if req.jobs < 1:
            raise SweboardError(f"--jobs {req.jobs}: expected a whole number >= 1")
        out["jobs"] = req.jobs
    return out


def load_request_slice(req: RunRequest):
    from sweboard.instances import load_slice, select
    from sweboard.paths import config_dir

    section = req.section or ("offline" if req.offline else "swe-bench-lite")
    path = req.instances or config_dir() / DEFAULT_SLICE
    sl = load_slice(path.resolve() if path.exists() else path, section)
    return select(sl, list(req.instance_ids) or None, req.pattern, req.span)


def validate(req: RunRequest) -> Checked:
    """Every rule, in one place; returns what it resolved, or raises one line (SweboardError)."""
    checked = Checked(req)
    if req.run_id is not None:
        check_run_id(req.run_id)
    if req.cluster:
        from sweboard.executors.ray_auth import check_address

        checked.request = req = replace(req, cluster=check_address(req.cluster))
    if "settings" in req.parts or "jobs" in req.parts:
        from sweboard.runconfig import load_runner_config

        checked.config = load_runner_config(overrides=settings_overrides(req))
    if "models" in req.parts or "model" in req.parts:
        from sweboard.catalog import load_catalog

        catalog = load_catalog()
        checked.models = [catalog.get(m) for m in req.models]  # an unknown model is one line, before anything
    if "slice" in req.parts:
        checked.slice = load_request_slice(req)
        if not req.offline and _bundled(checked.slice.dataset_lock):  # any section on the bundled task set is
            checked.request = req = replace(req, offline=True)  # offline: its images and the scripted provider
    if "run" in req.parts and req.run_id is not None:
        _check_run(checked)
    if req.calls_models and not req.dry_run:  # last: what the request names is checked before the setup
        for model in checked.models:
            _check_reachable(model)
    return checked


def _bundled(lock_path: Path) -> bool:
    from sweboard.dataset_lock import read_lock

    return lock_path.is_file() and read_lock(lock_path).source == "bundled"


def _check_reachable(model) -> None:
    """A model whose provider has no address would fail every attempt at the gateway: that is the
    setup's failure, never the model's, so it is refused before the batch starts."""
    provider = model.provider
    if provider.base_url_env and not provider.base_url():
        hint = (" (test equipment: the drivers and the preflight start the scripted provider themselves; "
                "tools/scripted_provider.py prints one)") if provider.test_equipment else ""
        raise SweboardError(f"--model {model.id}: provider {provider.name!r} has no address: set "
                            f"{provider.base_url_env}{hint}")


def _check_run(checked: Checked) -> None:
    """Who holds the run, then whether it exists, then whether this request matches it."""
    from sweboard import runclaim
    from sweboard.manifest import read_manifest
    from sweboard.preflight_record import read_record

    req = checked.request
    holder = runclaim.holder(req.run_id)
    checked.in_session = holder is not None and holder in _me_and_my_ancestors()
    if holder is not None and not checked.in_session and req.writes and not req.dry_run:
        raise SweboardError(f"run {req.run_id} is being run by PID {holder}; wait for it to finish (or stop it), "
                            "then --resume")
    checked.manifest = read_manifest(req.run_id)
    if req.existing:
        if checked.manifest is None:
            raise SweboardError(f"runs/{req.run_id}/manifest.json: no such run{_nearest(req.run_id)}")
        checked.started = True
        return
    preflight = read_record(req.run_id)
    checked.started = checked.manifest is not None or preflight is not None or runclaim.claim_path(req.run_id).exists()
    if req.resume and not checked.started:
        raise SweboardError(f"--resume: there is no run {req.run_id!r} to resume{_nearest(req.run_id)} "
                            "(leave out --resume to start it)")
    if not req.resume and checked.started and not checked.in_session and req.writes:
        what = "finished and immutable" if checked.finished else "started already"
        raise SweboardError(f"run {req.run_id} is {what} (runs/{req.run_id}); pass --resume to continue it, or "
                            "choose a new --run-id")
    if checked.slice is not None:
        same_selection(req.run_id, checked.slice, checked.manifest, preflight)
    if checked.config is not None and checked.manifest is not None and not checked.finished:
        same_settings(req.run_id, checked.manifest, checked.config)


def _nearest(run_id: str) -> str:
    """Runs named like the mistyped one (the preflight's own check runs, `.canary` / `.solver`, left out)."""
    from sweboard.runclaim import existing_runs

    runs = [r for r in existing_runs() if not r.endswith((".canary", ".solver")) and ".canary-" not in r
            and ".solver-" not in r]
    near = difflib.get_close_matches(run_id, runs, n=3, cutoff=0.5)
    return f"; nearest: {', '.join(near)}" if near else "; runs/ has none like it"


def _me_and_my_ancestors() -> set[int]:
    """This process and every process above it: a run held by one of them is held by our session."""
    out, pid = set(), os.getpid()
    while pid > 1 and pid not in out:
        out.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return out


def claim(checked: Checked) -> None:
    """Hold the run for this process (a writing entry point), unless our session holds it already."""
    from sweboard import runclaim

    if checked.run_id and checked.request.writes and not checked.request.dry_run and not checked.in_session:
        runclaim.claim(checked.run_id, os.getpid())
        checked.in_session = True
