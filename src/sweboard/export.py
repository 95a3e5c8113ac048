"""Export a finished run's model in the field's own formats.

Why: a result that only sweboard can read cannot be checked by anyone else. The SWE-bench
experiments repository takes one submission per model in a fixed layout, scored pass@1 (a
pass@k over several attempts is not accepted there), so exactly one attempt per task goes out,
by a rule fixed in advance: **attempt 1** of every task (the pass@1 sample; the first attempt is
also what early stopping's pass@1 counts). The evaluator's own per-instance files are copied as
it wrote them, and the export then grades *itself* the way the experiments repository's
`analysis/get_results.py` does (swebench's `get_eval_report(make_test_spec(row), ...)` on each
`logs/<id>/test_output.txt`): an export whose self-check differs from the board is refused.

The folder is the leaderboard's benchmark, never the HF split's name: `lite/` (SWE-bench Lite,
test), `verified/`, `test/` (full), `multilingual/`, `multimodal/`; a dev-split slice goes under
`lite-dev/` (or `<benchmark>-dev/`), the bundled offline task set under `testbench/`: folders the
official script never grades against the test split.

    <out>/evaluation/<benchmark>/<YYYYMMDD>_<model>/
        all_preds.jsonl          one prediction a line (instance_id, model_name_or_path, model_patch)
        preds.json               the same, keyed by instance id (mini-swe-agent / SWE-agent's preds.json)
        logs/<instance_id>/      patch.diff, report.json, test_output.txt, run_instance.log, eval.sh
        trajs/<instance_id>.traj the agent's trajectory (already scrubbed of keys)
        metadata.yaml            info / assets / tags, as the experiments repository's checklist asks
        README.md                what this is, how it was made, the numbers, where the run is
        self_check.json          the export graded by swebench's own functions, against the board

An empty patch gets no `logs/<id>/` (the official script counts it as `no_generation`).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import yaml

from sweboard import credentials
from sweboard.errors import SweboardError
from sweboard.untrusted import confined_file
from sweboard.leaderboard import batch_metrics, scored
from sweboard.manifest import require_manifest, run_dir
from sweboard.outcomes import RESOLVED, task_outcomes

LOG_FILES = ("patch.diff", "report.json", "test_output.txt", "run_instance.log", "eval.sh")
ATTEMPT_RULE = "attempt 1 of every task (the pass@1 sample)"


def _slug(model_id: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in model_id)


def _verdict(run: Path, attempt_dir: Path) -> dict | None:
    """The attempt's verdict; a reused one is followed to the grading it reused (same patch)."""
    try:
        v = json.loads((attempt_dir / "verdict.json").read_text())
    except (OSError, ValueError):
        return None
    if v.get("reused_from"):
        source = confined_file(run, v["reused_from"])
        try:
            return json.loads(source.read_text()) if source is not None else None
        except (OSError, ValueError):
            return None
    return v


def _trajectory(attempt_dir: Path, record: dict) -> Path | None:
    """The attempt's trajectory: a regular file inside its folder, reached through no link (the record's
    `trajectory` is the agent's word and may name anything: `..`, an absolute path, a link)."""
    named = [record.get("trajectory")] if isinstance(record.get("trajectory"), str) else []
    named += [str(p.relative_to(attempt_dir)) for p in sorted(attempt_dir.glob("sweagent/**/*.traj"))]
    named.append("trajectory.json")
    return next((p for p in (confined_file(attempt_dir, n) for n in named) if p is not None), None)


def _copy_scrubbed(source: Path, target: Path, secrets: list[str]) -> None:
    """Copy a file that is published, with every secret value replaced (it was scrubbed when written; a
    key added to the credentials since, or a file scrubbed by an older version, is caught here)."""
    data = source.read_bytes()
    for value in secrets:
        data = data.replace(value.encode(), b"***")
    target.write_bytes(data)


def export(run_id: str, model_id: str, out: Path, day: dt.date | None = None) -> Path:
    """Write the submission folder for one model of a finished run; returns it. Never overwrites."""
    manifest = require_manifest(run_id)
    if model_id not in manifest["batches"]:
        raise SweboardError(f"run {run_id} has no model {model_id!r}; it has {sorted(manifest['batches'])}")
    row = batch_metrics(manifest, model_id)
    if not scored(row["status"]):
        raise SweboardError(f"run {run_id}, {model_id}: status {row['status']!r}; only a scored row is exported")
    day = day or dt.datetime.now(dt.timezone.utc).date()
    folder = out / "evaluation" / benchmark(manifest) / f"{day:%Y%m%d}_{_slug(model_id)}"
    if folder.exists():
        raise SweboardError(f"{folder}: exists; an export is never overwritten (choose another --out)")
    run = run_dir(run_id)
    secrets = credentials.secret_values()
    preds, missing, reused = [], [], []
    folder.mkdir(parents=True)
    for iid, per in sorted(task_outcomes(manifest, model_id).items()):
        first = per[0]
        attempt = run / Path(first["record"]).parent
        record = json.loads((run / first["record"]).read_text())
        preds.append({"instance_id": iid, "model_name_or_path": model_id, "model_patch": record.get("patch") or ""})
        verdict = _verdict(run, attempt)
        if not (record.get("patch") or "").strip():
            continue  # no generation: no logs folder, as the official script counts it
        logs = folder / "logs" / iid
        logs.mkdir(parents=True)
        if _reused(attempt):
            reused.append(iid)
        instance_log = confined_file(run, (verdict or {}).get("instance_log"))
        if instance_log is not None:
            for name in LOG_FILES:
                source = confined_file(instance_log.parent, name)
                if source is not None:
                    _copy_scrubbed(source, logs / name, secrets)
        else:
            missing.append(f"{iid} ({first['outcome']}: not graded)")
        traj = _trajectory(attempt, record)
        if traj is not None:
            (folder / "trajs").mkdir(exist_ok=True)
            _copy_scrubbed(traj, folder / "trajs" / f"{iid}.traj", secrets)
    (folder / "all_preds.jsonl").write_text("".join(json.dumps(p) + "\n" for p in preds))
    (folder / "preds.json").write_text(json.dumps({p["instance_id"]: p for p in preds}, indent=2))
    board = {iid: per[0]["outcome"] == RESOLVED for iid, per in task_outcomes(manifest, model_id).items() if per}
    resolved = sum(board.values())
    batch = manifest["batches"][model_id]
    (folder / "metadata.yaml").write_text(yaml.safe_dump(_metadata(manifest, model_id, batch), sort_keys=False))
    check = self_check(folder, run, preds, board)
    (folder / "self_check.json").write_text(json.dumps(check, indent=2) + "\n")
    (folder / "README.md").write_text(_readme(manifest, model_id, batch, len(preds), resolved, missing, reused, check))
    _note_in_run(run, model_id, folder, check)
    if check["differs"]:
        raise SweboardError(f"{folder}: the export's self-check differs from the board on {', '.join(check['differs'])} "
                            "(self_check.json); not a submission")
    return folder


def _note_in_run(run: Path, model_id: str, folder: Path, check: dict) -> None:
    """runs/<run>/exports/<folder>.json: the page's validity block shows the self-check (a new file, never a rewrite)."""
    notes = run / "exports"
    notes.mkdir(exist_ok=True)
    body = json.dumps({"model": model_id, "folder": str(folder), "matches": check["matches"],
                       "differs": check["differs"], "resolved": len(check["resolved"])}, indent=2)
    for n in range(100):
        try:
            with (notes / f"{folder.name}{'' if n == 0 else f'.{n}'}.json").open("x") as f:
                f.write(body + "\n")
            return
        except FileExistsError:
            continue


def benchmark(manifest: dict) -> str:
    """The leaderboard's folder for the run's data: lite, verified, test, multilingual, multimodal (test
    split); `<name>-dev` for a dev split; testbench for the bundled offline set."""
    lock = manifest.get("dataset_lock") or {}
    repo_id = str(lock.get("repo_id", "")).lower()
    if lock.get("source") == "bundled" or "offline" in repo_id or repo_id.startswith("sweboard"):
        return "testbench"
    name = next((n for key, n in (("lite", "lite"), ("verified", "verified"), ("multilingual", "multilingual"),
                                  ("multimodal", "multimodal")) if key in repo_id), "test")
    split = manifest["slice"]["split"]
    return name if split == "test" else f"{name if name != 'test' else 'full'}-{split}"


def _reused(attempt: Path) -> bool:
    try:
        return bool(json.loads((attempt / "verdict.json").read_text()).get("reused_from"))
    except (OSError, ValueError):
        return False


def self_check(folder: Path, run: Path, preds: list[dict], board: dict[str, bool]) -> dict:
    """Grade the export from its own files with swebench's functions, as the experiments repository's
    script does; compare with the board. A task without test output cannot be re-graded (listed)."""
    rows = {}
    dataset = run / "dataset.jsonl"
    if dataset.is_file():
        for line in dataset.read_text().splitlines():
            row = json.loads(line)
            rows[row["instance_id"]] = row
    regraded, differs, skipped = {}, [], []
    for pred in preds:
        iid = pred["instance_id"]
        output = folder / "logs" / iid / "test_output.txt"
        if not pred["model_patch"].strip():
            regraded[iid] = False  # no generation
        elif iid not in rows or not output.is_file():
            skipped.append(iid)
            continue
        else:
            regraded[iid] = _official_grade(rows[iid], pred, output)
        if regraded[iid] != board.get(iid, False):
            differs.append(iid)
    return {"method": "swebench get_eval_report(make_test_spec(row), prediction, logs/<id>/test_output.txt)",
            "resolved": sorted(i for i, r in regraded.items() if r), "regraded": len(regraded),
            "not_regraded": skipped, "differs": differs, "matches": not differs}


def _official_grade(row: dict, pred: dict, output: Path) -> bool:
    from swebench.harness.grading import get_eval_report
    from swebench.harness.utils import make_test_spec

    report = get_eval_report(make_test_spec(row), pred, str(output), include_tests_status=False)
    return bool((report.get(pred["instance_id"]) or {}).get("resolved"))


def resolved_line(manifest: dict, check: dict, n: int) -> str:
    """`Resolved N instances (x% of the full split, y% of the slice)`, as the official script prints it."""
    full = (manifest.get("dataset_lock") or {}).get("rows", {}).get(manifest["slice"]["split"])
    got = len(check["resolved"])
    of_full = f"{got / full:.1%} of the full {manifest['slice']['split']} split ({full})" if full else "full split size unknown"
    return f"Resolved {got} instances ({of_full}, {got / n:.1%} of the slice's {n})" if n else f"Resolved {got} instances"


TODO = "TODO: fill in before submitting"


def _metadata(manifest: dict, model_id: str, batch: dict) -> dict:
    """The experiments repository's `metadata.yaml`: `info`, `assets`, `tags`; every field only the
    submitter can give is `TODO:` (README.md lists them). sweboard's provenance lives in README.md."""
    attempts = "1" if batch.get("stop_after_resolved", True) or batch.get("attempts_per_task", 1) == 1 else "2+"
    return {
        "info": {"name": f"sweboard {batch.get('runner') or ''} + {model_id}".strip(),
                 "site": TODO, "report": TODO, "authors": TODO},
        "assets": {"logs": "logs/", "trajs": "trajs/"},
        "tags": {"checked": False, "model": [model_id], "org": [TODO], "os_model": False, "os_system": True,
                 "system": {"attempts": attempts}},
    }


def _readme(manifest: dict, model_id: str, batch: dict, n: int, resolved: int, missing: list[str],
            reused: list[str], check: dict) -> str:
    lines = [f"# {model_id} with {batch.get('runner')} — sweboard run {manifest['run_id']}", "",
             f"- Dataset: {manifest['dataset_lock']['repo_id']} at revision {manifest['dataset_lock']['revision']}, "
             f"split {manifest['slice']['split']}, {n} tasks (slice hash {manifest['slice'].get('instance_ids_sha256')}).",
             f"- Agent: {batch.get('runner')} {batch.get('runner_version') or ''}; one attempt per task exported: "
             f"{ATTEMPT_RULE}.",
             f"- Resolved by the official evaluator (swebench {(manifest.get('versions') or {}).get('swebench', '?')}): "
             f"{resolved} of {n} ({resolved / n:.1%})." if n else "- No task exported.",
             f"- Self-check (self_check.json): {check['method']}: "
             + ("matches the board" if check["matches"] else f"DIFFERS on {', '.join(check['differs'])}")
             + (f"; not re-gradable (no test output or dataset row): {', '.join(check['not_regraded'])}" if check["not_regraded"] else "")
             + ".",
             "- Logs are the evaluator's own per-instance files, copied unchanged; trajectories are scrubbed of keys. "
             "An empty patch has no logs folder (no_generation).",
             f"- Provenance: runs/{manifest['run_id']}/manifest.json in the sweboard checkout that made it.",
             f"- metadata.yaml: fill every `{TODO}` (info.site, info.report, info.authors, tags.org) and check "
             "tags.os_model before submitting."]
    if reused:
        lines.append(f"- Graded once per distinct patch: the logs of {', '.join(reused)} are the grading of an "
                     "identical patch in the same run (same image, same evaluator), copied under this model's name.")
    if (batch.get("model") or {}).get("provider") == "scripted":
        lines.append("- TEST EQUIPMENT: a scripted offline provider, never a model's result.")
    if missing:
        lines.append(f"- Not graded (no logs): {', '.join(missing)}.")
    folder = benchmark(manifest)
    if folder != "lite" and folder not in ("verified", "test", "multilingual", "multimodal"):
        lines.append(f"- Under evaluation/{folder}/: the SWE-bench leaderboard takes only test-split results of its "
                     "benchmarks; this export is for checking, not for submission.")
    lines += ["", resolved_line(manifest, check, n)]
    return "\n".join(lines) + "\n"
