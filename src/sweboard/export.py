"""Export a finished run's model in the field's own formats.

Why: a result that only sweboard can read cannot be checked by anyone else. The SWE-bench
experiments repository takes one submission per model in a fixed layout, scored pass@1 (a
pass@k over several attempts is not accepted there), so exactly one attempt per task goes out,
by a rule fixed in advance: **attempt 1** of every task (the pass@1 sample; the first attempt is
also what early stopping's pass@1 counts). Nothing is re-graded: the evaluator's own per-instance
files are copied as it wrote them.

    <out>/evaluation/<split>/<YYYYMMDD>_<model>/
        all_preds.jsonl          one prediction a line (instance_id, model_name_or_path, model_patch)
        preds.json               the same, keyed by instance id (mini-swe-agent / SWE-agent's preds.json)
        logs/<instance_id>/      patch.diff, report.json, test_output.txt, run_instance.log, eval.sh
        trajs/<instance_id>.traj the agent's trajectory (already scrubbed of keys)
        metadata.yaml            info + tags, as the experiments repository's checklist asks
        README.md                what this is, how it was made, the numbers, where the run is
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
    folder = out / "evaluation" / manifest["slice"]["split"] / f"{day:%Y%m%d}_{_slug(model_id)}"
    if folder.exists():
        raise SweboardError(f"{folder}: exists; an export is never overwritten (choose another --out)")
    run = run_dir(run_id)
    secrets = credentials.secret_values()
    preds, missing = [], []
    folder.mkdir(parents=True)
    for iid, per in sorted(task_outcomes(manifest, model_id).items()):
        first = per[0]
        attempt = run / Path(first["record"]).parent
        record = json.loads((run / first["record"]).read_text())
        preds.append({"instance_id": iid, "model_name_or_path": model_id, "model_patch": record.get("patch") or ""})
        verdict = _verdict(run, attempt)
        logs = folder / "logs" / iid
        logs.mkdir(parents=True)
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
    resolved = sum(1 for per in task_outcomes(manifest, model_id).values() if per[0]["outcome"] == RESOLVED)
    batch = manifest["batches"][model_id]
    (folder / "metadata.yaml").write_text(yaml.safe_dump(_metadata(manifest, model_id, batch), sort_keys=False))
    (folder / "README.md").write_text(_readme(manifest, model_id, batch, len(preds), resolved, missing))
    return folder


def _metadata(manifest: dict, model_id: str, batch: dict) -> dict:
    return {
        "info": {"name": f"sweboard {batch.get('runner') or ''} + {model_id}".strip(),
                 "site": "", "report": "", "authors": "",
                 "sweboard_run": manifest["run_id"], "dataset": manifest["dataset_lock"]["repo_id"],
                 "dataset_revision": manifest["dataset_lock"]["revision"],
                 "runner": batch.get("runner"), "runner_version": batch.get("runner_version")},
        "tags": {"checked": False, "model": [model_id], "org": [], "os_model": None, "os_system": True,
                 "system": {"attempts": "1"}},
    }


def _readme(manifest: dict, model_id: str, batch: dict, n: int, resolved: int, missing: list[str]) -> str:
    lines = [f"# {model_id} with {batch.get('runner')} — sweboard run {manifest['run_id']}", "",
             f"- Dataset: {manifest['dataset_lock']['repo_id']} at revision {manifest['dataset_lock']['revision']}, "
             f"split {manifest['slice']['split']}, {n} tasks (slice hash {manifest['slice'].get('instance_ids_sha256')}).",
             f"- Agent: {batch.get('runner')} {batch.get('runner_version') or ''}; one attempt per task exported: "
             f"{ATTEMPT_RULE}.",
             f"- Resolved by the official evaluator (swebench {(manifest.get('versions') or {}).get('swebench', '?')}): "
             f"{resolved} of {n} ({resolved / n:.1%}).",
             "- Logs are the evaluator's own per-instance files, copied unchanged; trajectories are scrubbed of keys.",
             f"- Provenance: runs/{manifest['run_id']}/manifest.json in the sweboard checkout that made it."]
    if (batch.get("model") or {}).get("provider") == "scripted":
        lines.append("- TEST EQUIPMENT: a scripted offline provider, never a model's result.")
    if missing:
        lines.append(f"- Not graded (no logs): {', '.join(missing)}.")
    return "\n".join(lines) + "\n"
