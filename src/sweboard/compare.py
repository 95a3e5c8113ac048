"""Comparing two runs of the same experiment: per-task flips, a paired test, and the exit gates.

Both runs grade the same tasks, so a model's change is judged by the exact McNemar test on
the tasks that flipped (`stats.py`), not by an unpaired band. Runs that differ in what was
measured (slice, dataset revision, K, stopping policy, runner) are not the same experiment
and are refused. A gate that lacks the data it needs is N/A, says why, and fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from sweboard.errors import SweboardError
from sweboard.leaderboard import OK, batch_metrics, task_outcomes
from sweboard.manifest import require_manifest
from sweboard.outcomes import ERROR_COLUMNS, RESOLVED
from sweboard.stats import ALPHA, PairedResult, paired

RARE = 0.10  # malformed-patch + path-not-found attempts must stay under this share
BEST_VS_BASELINE = 1.5  # plan i1 gate: best model's pass rate at least 50% above the no-patch baseline
PASS, FAIL, NA = "PASS", "FAIL", "N/A"


@dataclass
class ModelComparison:
    model: str
    kind: str
    rate_a: float | None
    rate_b: float | None
    test: PairedResult | None  # None when either row is not ok (nothing graded to compare)
    why_not: str = ""

    @property
    def moved(self) -> bool:
        return bool(self.test and self.test.significant)


def resolved_by_task(manifest: dict, model_id: str) -> dict[str, bool]:
    return {iid: any(a["outcome"] == RESOLVED for a in per) for iid, per in task_outcomes(manifest, model_id).items()}


def _experiment(m: dict, model_id: str | None = None) -> dict:
    cfg = m.get("runner_config") or {}
    out = {"slice": m["slice"]["instance_ids_sha256"], "dataset revision": m["dataset_lock"]["revision"],
           "K": cfg.get("attempts"), "stopping policy": cfg.get("stop_after_resolved"), "runner": cfg.get("runner")}
    if model_id:
        b = m["batches"][model_id]
        out.update({"K": b.get("attempts_per_task", out["K"]),
                    "stopping policy": b.get("stop_after_resolved", out["stopping policy"]),
                    "runner": b.get("runner", out["runner"])})
    return out


def _refuse_if_different(run_a: str, a: dict, run_b: str, b: dict, models: list[str]) -> None:
    pairs = [(_experiment(a), _experiment(b))] + [(_experiment(a, m), _experiment(b, m)) for m in models]
    for ea, eb in pairs:
        diff = [k for k in ea if ea[k] != eb[k]]
        if diff:
            detail = "; ".join(f"{k}: {ea[k]!r} vs {eb[k]!r}" for k in diff)
            raise SweboardError(f"runs {run_a} and {run_b} are not the same experiment ({detail}); not comparable")


def compare(run_a: str, run_b: str) -> tuple[list[ModelComparison], dict, dict]:
    a, b = require_manifest(run_a), require_manifest(run_b)
    models = [m for m in a["batches"] if m in b["batches"]]
    _refuse_if_different(run_a, a, run_b, b, models)
    out = []
    for model_id in models:
        ma, mb = batch_metrics(a, model_id), batch_metrics(b, model_id)
        kind = a["batches"][model_id]["kind"]
        if ma["status"] != OK or mb["status"] != OK:
            why = "; ".join(f"{r}: {m['status']}" for r, m in ((run_a, ma), (run_b, mb)) if m["status"] != OK)
            out.append(ModelComparison(model_id, kind, None, None, None, why))
            continue
        out.append(ModelComparison(model_id, kind, ma["pass@K"], mb["pass@K"],
                                   paired(resolved_by_task(a, model_id), resolved_by_task(b, model_id))))
    return out, a, b


def _contenders(kinds: dict[str, str]) -> list[str]:
    """Rows the gates judge: real models; an offline run (test equipment only) stands in with its scripted rows."""
    models = [m for m, k in kinds.items() if k == "model"]
    return models or [m for m, k in kinds.items() if k == "test-equipment"]


def gates(manifest: dict, comparisons: list[ModelComparison]) -> list[tuple[str, str, str]]:
    """(gate, PASS | FAIL | N/A, detail) for the plan's i1/i2 exit gates on run B (the rerun)."""
    metrics = {m: batch_metrics(manifest, m) for m in manifest["batches"]}
    kinds = {m: b["kind"] for m, b in manifest["batches"].items()}
    contenders = [m for m in _contenders(kinds) if metrics[m]["status"] == OK]
    baselines = [m for m, k in kinds.items() if k == "baseline"]
    out = []

    name = f"best model >= {BEST_VS_BASELINE}x the no-patch baseline"
    base_ok = [m for m in baselines if metrics[m]["status"] == OK]
    if not baselines:
        out.append((name, NA, "no baseline row in this run"))
    elif not base_ok:
        out.append((name, NA, f"baseline not graded: {metrics[baselines[0]]['status']}"))
    elif not contenders:
        out.append((name, NA, "no model row with status ok"))
    else:
        best_id = max(contenders, key=lambda m: metrics[m]["pass@K"])
        best, base = metrics[best_id]["pass@K"], metrics[base_ok[0]]["pass@1"]
        ok = best > 0 and best >= BEST_VS_BASELINE * base
        out.append((name, PASS if ok else FAIL, f"{best_id} pass@K {best:.3f} vs baseline pass@1 {base:.3f}"))

    name = f"malformed-patch and path-not-found rare (< {RARE:.0%} of model attempts)"
    attempts = sum(metrics[m]["attempts_total"] for m in contenders)
    bad = sum(metrics[m][ERROR_COLUMNS["malformed_patch"]] + metrics[m][ERROR_COLUMNS["path_not_found"]]
              for m in contenders)
    if not attempts:
        out.append((name, NA, "no graded model attempts"))
    else:
        share = bad / attempts
        out.append((name, PASS if share < RARE else FAIL, f"{bad} of {attempts} model attempts ({share:.1%})"))

    name = "reruns reproduce (no model's outcomes changed: exact McNemar, paired by task)"
    tested = [c for c in comparisons if c.test is not None]
    moved = [c.model for c in tested if c.moved]
    if not tested:
        out.append((name, NA, "no model graded in both runs"))
    elif moved:
        out.append((name, FAIL, f"changed at p < {ALPHA}: {moved}"))
    else:
        flips = [c for c in tested if c.test.only_a or c.test.only_b]
        underpowered = [c.model for c in flips if not c.test.significant and not c.test.detectable]
        if underpowered:
            out.append((name, NA, f"outcomes flipped for {underpowered} but too few tasks to tell noise from change"))
        else:
            out.append((name, PASS, f"{len(tested)} models compared; " + (
                "identical per-task outcomes" if not flips else f"flips within noise for {[c.model for c in flips]}")))
    return out
