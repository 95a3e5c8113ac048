"""Comparing two runs of the same experiment: per-task changes, a paired test, and the exit gates.

Both runs grade the same tasks, so a model's change is judged task by task on its pass@1
contribution (the first attempt, or c/n with all attempts): the exact paired test (McNemar on
0/1 tasks) and the paired 95 % interval of the change (`stats.py`, `intervals.py`), not by an
unpaired band. Runs that differ in what was measured (slice, dataset revision, K, stopping
policy, runner) are not the same experiment and are refused; so is a run compared with itself.
A gate that lacks the data it needs is N/A, says why, and fails.

The plan's rerun gate asks whether a rerun reproduces the outcomes within normal variance: the
per-task flip rate (`rerun_gate.py`). The equivalence claim (every model's interval within +/-
DELTA; FAIL when a change is significant, Holm over the models; N/A when the tasks cannot bound
it) is printed as its own line and does not decide the exit status: on 8-19 tasks it cannot pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from sweboard.errors import SweboardError
from sweboard.leaderboard import batch_metrics, pass1_by_task, scored
from sweboard.manifest import require_manifest
from sweboard.outcomes import ERROR_COLUMNS
from sweboard.stats import ALPHA, PairedResult, holm, paired

RARE = 0.10  # malformed-patch + path-not-found attempts must stay under this share
BEST_VS_BASELINE = 1.5  # plan i1 gate: best model's pass rate at least 50% above the no-patch baseline
PASS, FAIL, NA = "PASS", "FAIL", "N/A"
DELTA = 0.10  # reproduction: a rerun's pass@1 may move by at most this much (fraction) to count as the same


@dataclass
class ModelComparison:
    model: str
    kind: str
    rate_a: float | None  # pass@1 in A
    rate_b: float | None
    test: PairedResult | None  # None when either row is not ok (nothing graded to compare)
    why_not: str = ""
    p_holm: float = 1.0  # the test's p adjusted over the models compared (set by `compare`)

    @property
    def moved(self) -> bool:
        return bool(self.test) and self.p_holm < ALPHA

    def within(self, delta: float) -> bool:
        return bool(self.test) and -delta <= self.test.ci_low and self.test.ci_high <= delta


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
    if run_a == run_b:
        raise SweboardError(f"compare_runs: {run_a} compared with itself proves nothing; give two different runs")
    a, b = require_manifest(run_a), require_manifest(run_b)
    models = [m for m in a["batches"] if m in b["batches"]]
    _refuse_if_different(run_a, a, run_b, b, models)
    out = []
    for model_id in models:
        ma, mb = batch_metrics(a, model_id), batch_metrics(b, model_id)
        kind = a["batches"][model_id]["kind"]
        if not scored(ma["status"]) or not scored(mb["status"]):
            why = "; ".join(f"{r}: {m['status']}" for r, m in ((run_a, ma), (run_b, mb)) if not scored(m["status"]))
            out.append(ModelComparison(model_id, kind, None, None, None, why))
            continue
        va, vb = pass1_by_task(a, model_id), pass1_by_task(b, model_id)
        out.append(ModelComparison(model_id, kind, ma["pass@1"], mb["pass@1"], paired(va, vb)))
    tested = [c for c in out if c.test is not None]
    for c, adjusted in zip(tested, holm([c.test.p_value for c in tested])):
        c.p_holm = adjusted
    return out, a, b


def _contenders(kinds: dict[str, str]) -> list[str]:
    """Rows the gates judge: real models; an offline run (test equipment only) stands in with its scripted rows."""
    models = [m for m, k in kinds.items() if k == "model"]
    return models or [m for m, k in kinds.items() if k == "test-equipment"]


def gates(manifest: dict, comparisons: list[ModelComparison], delta: float = DELTA,
          first: dict | None = None) -> list[tuple[str, str, str]]:
    """(gate, PASS | FAIL | N/A, detail) for the plan's i1/i2 exit gates on run B (the rerun); with run A
    (`first`), the rerun gate. The equivalence line (+/- delta) is `reproduction_gate`, its own line."""
    metrics = {m: batch_metrics(manifest, m) for m in manifest["batches"]}
    kinds = {m: b["kind"] for m, b in manifest["batches"].items()}
    contenders = [m for m in _contenders(kinds) if scored(metrics[m]["status"])]
    baselines = [m for m, k in kinds.items() if k == "baseline"]
    out = []

    name = f"best model >= {BEST_VS_BASELINE}x the no-patch baseline"
    base_ok = [m for m in baselines if scored(metrics[m]["status"])]
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

    if first is not None:
        out.append(variance_gate(first, manifest, comparisons))
    return out


def variance_gate(a: dict, b: dict, comparisons: list[ModelComparison]) -> tuple[str, str, str]:
    """The plan's rerun gate (rerun_gate.py): each model's rerun inside the variance its own attempts show."""
    from sweboard import rerun_gate

    name = "reruns reproduce within normal variance (flip rate on these tasks)"
    tested = [c for c in comparisons if c.test is not None and c.kind != "baseline"]
    if not tested:
        return name, NA, "no model graded in both runs"
    checks = [rerun_gate.check(c.model, a, b, len(tested)) for c in tested]
    missing = [c.model for c in checks if c.rate is None]
    if missing:
        return name, NA, ("no reference flip rate for " + ", ".join(missing) + ": it comes from a run's own "
                          "attempts; run with --all-attempts and K >= 2 (--attempts 2)")
    bad = [c for c in checks if not c.ok]
    return name, (FAIL if bad else PASS), "; ".join(c.line() for c in (bad or checks))


def reproduction_gate(comparisons: list[ModelComparison], delta: float = DELTA) -> tuple[str, str, str]:
    """PASS: every model's paired 95 % interval of the pass@1 change lies within +/- delta; FAIL: some
    model changed significantly (Holm over the models); N/A: neither can be shown from these tasks."""
    name = f"equivalence (each model's pass@1 change within +/-{delta:g}, paired by task; not a gate)"
    tested = [c for c in comparisons if c.test is not None]
    if not tested:
        return name, NA, "no model graded in both runs"
    moved = [c for c in tested if c.moved]
    if moved:
        return name, FAIL, "changed (Holm-adjusted p < 0.05): " + "; ".join(
            f"{c.model} {c.test.diff:+.3f} [{c.test.ci_low:+.3f}, {c.test.ci_high:+.3f}] p_holm {c.p_holm:.3g}"
            for c in moved)
    wide = [c for c in tested if not c.within(delta)]
    if wide:
        return name, NA, "cannot show either: " + "; ".join(
            f"{c.model} {c.test.diff:+.3f} [{c.test.ci_low:+.3f}, {c.test.ci_high:+.3f}] on {c.test.n} tasks"
            for c in wide) + f" (the interval must lie within +/-{delta:g}; more tasks narrow it)"
    return name, PASS, f"{len(tested)} models, every interval within +/-{delta:g}: " + "; ".join(
        f"{c.model} [{c.test.ci_low:+.3f}, {c.test.ci_high:+.3f}]" for c in tested)


def render(run_a: str, run_b: str, comparisons: list[ModelComparison], results: list[tuple[str, str, str]],
           delta: float) -> list[str]:
    """compare_runs.py's lines: per model, its change paired by task and the tasks behind it; then the gates."""
    lines = [f"{'model':44} {'kind':15} {'pass@1 A':>8} {'pass@1 B':>8}  paired by task"]
    for c in comparisons:
        if c.test is None:
            lines.append(f"{c.model:44} {c.kind:15} {'':>8} {'':>8}  not compared ({c.why_not})")
            continue
        verdict = "CHANGED" if c.moved else ("same within +/-%g" % delta if c.within(delta) else "undecided")
        lines.append(f"{c.model:44} {c.kind:15} {c.rate_a:>8.3f} {c.rate_b:>8.3f}  {verdict}: {c.test.statement()}")
        if c.test.only_a:
            lines.append(f"    better in {run_a}: {', '.join(c.test.only_a)}")
        if c.test.only_b:
            lines.append(f"    better in {run_b}: {', '.join(c.test.only_b)}")
    lines += [f"{state:<4}  {name}: {detail}" for name, state, detail in results]
    return lines
