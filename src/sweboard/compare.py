"""Comparing two runs: per-task agreement, whether rates moved beyond binomial noise, exit gates.

A rate moved if |p_A - p_B| > 2 * sqrt(p_A(1-p_A)/n_A + p_B(1-p_B)/n_B) (about a 95% band
for the difference of two binomial proportions); when both runs are perfectly consistent
(both variances 0) any difference counts as a move.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import sqrt

from sweboard.errors import SweboardError
from sweboard.leaderboard import batch_metrics, task_outcomes
from sweboard.manifest import read_manifest

RARE = 0.10  # malformed-patch + path-not-found attempts must stay under this share
BEST_VS_BASELINE = 1.5  # plan i1 gate: best model's pass rate at least 50% above the no-patch baseline


@dataclass
class ModelComparison:
    model: str
    kind: str
    n_a: int
    n_b: int
    rate_a: float
    rate_b: float
    agreement: float
    disagreeing: list[str]
    band: float
    moved: bool


def _resolved(manifest: dict, model_id: str) -> dict[str, bool]:
    return {iid: any(a["verdict"] == "resolved" for a in per) for iid, per in task_outcomes(manifest, model_id).items()}


def compare(run_a: str, run_b: str) -> tuple[list[ModelComparison], dict, dict]:
    a, b = read_manifest(run_a), read_manifest(run_b)
    for run_id, m in ((run_a, a), (run_b, b)):
        if m is None:
            raise SweboardError(f"runs/{run_id}/manifest.json: no such run")
    if a["slice"]["instance_ids_sha256"] != b["slice"]["instance_ids_sha256"]:
        raise SweboardError(f"runs {run_a} and {run_b} used different instance lists; nothing to compare")
    out = []
    for model_id in [m for m in a["batches"] if m in b["batches"]]:
        ra, rb = _resolved(a, model_id), _resolved(b, model_id)
        common = sorted(set(ra) & set(rb))
        ma, mb = batch_metrics(a, model_id), batch_metrics(b, model_id)
        pa, pb, na, nb = ma["pass@K"], mb["pass@K"], ma["instances"], mb["instances"]
        band = 2 * sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb) if na and nb else 0.0
        moved = abs(pa - pb) > band if band > 0 else pa != pb
        agree = [iid for iid in common if ra[iid] == rb[iid]]
        out.append(ModelComparison(model_id, a["batches"][model_id]["kind"], na, nb, pa, pb,
                                   len(agree) / len(common) if common else 1.0,
                                   [iid for iid in common if ra[iid] != rb[iid]], round(band, 4), moved))
    return out, a, b


def gates(manifest: dict, comparisons: list[ModelComparison]) -> list[tuple[str, bool, str]]:
    metrics = {m: batch_metrics(manifest, m) for m in manifest["batches"]}
    kinds = {m: b["kind"] for m, b in manifest["batches"].items()}
    baseline = [metrics[m]["pass@1"] for m, k in kinds.items() if k == "baseline"]
    contenders = {m: v for m, v in metrics.items() if kinds[m] != "baseline" and v["status"] == "ok"}
    out = []
    if baseline and contenders:
        best_id = max(contenders, key=lambda m: contenders[m]["pass@K"])
        best, base = contenders[best_id]["pass@K"], baseline[0]
        ok = best > 0 and best >= BEST_VS_BASELINE * base
        out.append(("best model >= 1.5x the no-patch baseline", ok,
                    f"{best_id} pass@K {best:.3f} vs baseline pass@1 {base:.3f}"))
    else:
        out.append(("best model >= 1.5x the no-patch baseline", False, "needs the baseline and one model with status ok"))
    attempts = sum(v["attempts_total"] for v in metrics.values())
    bad = sum(v["err_malformed_patch"] + v["err_path_not_found"] for v in metrics.values())
    share = bad / attempts if attempts else 0.0
    out.append((f"malformed-patch and path-not-found rare (< {RARE:.0%} of attempts)", share < RARE,
                f"{bad} of {attempts} attempts ({share:.1%})"))
    moved = [c.model for c in comparisons if c.moved]
    out.append(("reruns reproduce within binomial variance", not moved and bool(comparisons),
                "no model moved" if not moved else f"moved: {moved}"))
    return out
