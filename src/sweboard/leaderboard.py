"""Folding run manifests into `runs/manifests.csv` and `runs/leaderboard.csv`.

Every leaderboard row is one (run_id, model) batch and carries its run_id; its numbers come
only from that run's manifest, which points to the records, trajectories, predictions and
evaluator reports behind them. Rows from the scripted provider are labelled
`test-equipment` and are never a model's result. pass@k: see docs/metrics.md.
"""

from __future__ import annotations

import csv
import json
import math
import os
from math import comb
from pathlib import Path

from sweboard.errors import SweboardError
from sweboard.outcomes import (EMPTY, ERR_COLUMNS, ERROR_COLUMNS, PENDING, RESOLVED, UNRESOLVED, is_failure, is_infra,
                               task_outcomes)
from sweboard.paths import config_dir, runs_dir
from sweboard.intervals import these_tasks_interval, method as ci_method, rate_interval
from sweboard.stats import ALPHA, holm, paired, rank_groups
from sweboard.yamlio import load_yaml, require

MANIFEST_COLUMNS = ("run_id", "run_status", "created_at", "model", "kind", "runner", "runner_version", "batch_status",
                    "attempts", "dataset", "dataset_revision", "split", "instance_ids_sha256", "project_commit",
                    "project_dirty", "swebench", "docker_engine", "peak_cpu_percent", "wall_time_s", "evaluator_run_ids")
# Score cells: a number only when the row's status is `ok` (else empty; the status says why). The cost
# cells are also empty when the cost is unknown (an attempt without usage), pass@K's when a task had < K.
SCORE_COLUMNS = ("pass@1", "pass@K", "pass_estimator", "resolved", "resolve_rate", "submitted", "empty_patches",
                 "errors", "run_fail_rate", "baseline_pass@1", "delta_vs_baseline", "pass@1_ci_low", "pass@1_ci_high",
                 "pass@K_ci_low", "pass@K_ci_high", "ci_method", "cost_per_task", "cost_per_resolved", "rank_group",
                 "pass^K", "pass^K_ci_low", "pass^K_ci_high", "pass@1_these_tasks_ci_low", "pass@1_these_tasks_ci_high")
OK = "ok"


def scored(status: str) -> bool:
    """A row with scores: `ok`, or `ok; <what is left empty and why>` (pass@K on too few attempts)."""
    return status == OK or status.startswith(OK + ";")


def columns(version: str | None = None, path: Path | None = None) -> tuple[str, ...]:
    path = path or config_dir() / "leaderboard_columns.yaml"
    data = load_yaml(path)
    versions = require(data, "versions", dict, str(path))
    version = version or data.get("default")
    if version not in versions:
        raise SweboardError(f"{path}: no leaderboard version {version!r}; expected one of {sorted(versions)}")
    return tuple(versions[version])


def load_manifests(root: Path | None = None) -> list[dict]:
    root = root or runs_dir()
    manifests = []
    for path in sorted(root.glob("*/manifest.json")):
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise SweboardError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if isinstance(data, dict) and data.get("kind") in ("testbench-gold-check", "canary", "preflight"):  # checks, not results
            continue
        check_manifest(data, path)
        manifests.append(data)
    return manifests


def _need(value, kind, where: str, what: str):
    if not isinstance(value, kind):
        raise SweboardError(f"{where}: expected {what}, got {type(value).__name__}; the manifest is damaged "
                            "(restore it, or move the run out of runs/)")
    return value


def check_manifest(data, path: Path) -> None:
    """The shape the fold relies on; a damaged manifest is named, never a KeyError or a silently missing run."""
    where = str(path)
    _need(data, dict, where, "a JSON object")
    _need(data.get("run_id"), str, f"{where}: run_id", "a string")
    sl = _need(data.get("slice"), dict, f"{where}: slice", "an object")
    _need(sl.get("instance_ids"), list, f"{where}: slice.instance_ids", "a list")
    _need(sl.get("split"), str, f"{where}: slice.split", "a string")
    lock = _need(data.get("dataset_lock"), dict, f"{where}: dataset_lock", "an object")
    _need(lock.get("repo_id"), str, f"{where}: dataset_lock.repo_id", "a string")
    _need(lock.get("revision"), str, f"{where}: dataset_lock.revision", "a string")
    _need(data.get("evaluations", {}), dict, f"{where}: evaluations", "an object")
    for model_id, batch in _need(data.get("batches"), dict, f"{where}: batches", "an object").items():
        bw = f"{where}: batches[{model_id!r}]"
        _need(batch, dict, bw, "an object")
        _need(batch.get("model"), dict, f"{bw}.model", "an object")
        _need(batch.get("kind"), str, f"{bw}.kind", "a string")
        _need(batch.get("status"), str, f"{bw}.status", "a string")
        for iid, attempts in _need(batch.get("attempts"), dict, f"{bw}.attempts", "an object").items():
            for i, a in enumerate(_need(attempts, list, f"{bw}.attempts[{iid!r}]", "a list")):
                aw = f"{bw}.attempts[{iid!r}][{i}]"
                _need(a, dict, aw, "an object")
                _need(a.get("attempt"), int, f"{aw}.attempt", "an integer")
                _need(a.get("status"), str, f"{aw}.status", "a string")
                _need(a.get("record"), str, f"{aw}.record", "a path")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Chen et al. (2021): 1 - C(n-c, k) / C(n, k), the chance that k of n samples include a correct one."""
    if not 0 <= c <= n or k < 1:
        raise ValueError(f"pass_at_k: need 0 <= c <= n and k >= 1, got n={n}, c={c}, k={k}")
    if n < k:
        raise ValueError(f"pass_at_k: k={k} samples cannot be drawn from n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """pass^k (Yao et al. 2024, tau-bench): C(c, k) / C(n, k), the chance that k of n attempts are all
    correct. It measures reliability (every try works) where pass@k measures reach (one try works)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass_hat_k: need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    return comb(c, k) / comb(n, k)


def row_status(manifest: dict, model_id: str, tasks: dict[str, list[dict]]) -> str:
    """`ok`, or in words why the row's scores cannot be given (the first reason that applies)."""
    batch = manifest["batches"][model_id]
    ev = manifest.get("evaluations", {}).get(model_id) or {}
    status = batch.get("status") or "incomplete"
    if status.startswith(("skipped", "stopped", "failed")):
        return status
    attempts = [a for per in tasks.values() for a in per]
    infra = sorted(iid for iid, per in tasks.items() if any(is_infra(a["outcome"]) for a in per))
    if infra:
        return f"incomplete: {len(infra)} tasks hit infrastructure errors (--resume reruns them)"
    pending = [a for a in attempts if a["outcome"] == PENDING]
    failures = ev.get("failures") or []
    if pending and failures:
        return f"not graded: evaluator failed ({failures[-1]['log']})"
    conflicts = [a for a in attempts if a["verdict_conflict"]]
    if conflicts:
        return f"verdict conflict: {len(conflicts)} attempts graded twice with different verdicts"
    open_flips = [a for a in pending if a.get("grader_flip")]
    if open_flips:
        return (f"not graded: {len(open_flips)} grader flip{'s' if len(open_flips) != 1 else ''} await a third "
                "grading (two gradings disagreed; tools/run_evaluation.py grades it)")
    if pending:
        return f"not graded: {len(pending)} attempts await the evaluator (tools/run_evaluation.py)"
    missing = len(manifest["slice"]["instance_ids"]) - sum(1 for per in tasks.values() if per)
    if status != OK or missing:
        return f"incomplete: {missing} tasks without attempts (--resume continues)" if missing else \
            "incomplete: attempts missing under the batch's policy (--resume continues)"
    return OK


def _percentile(values: list[float], q: float):
    """Nearest-rank percentile; empty when the sample cannot support it: the q-th percentile needs at
    least 100 / (100 - q) values (2 for P50, 10 for P90, 100 for P99), else it is just the maximum."""
    if len(values) < math.ceil(100 / (100 - q) - 1e-9):
        return ""
    ordered = sorted(values)
    return round(ordered[max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))], 3)


def _percentiles(prefix: str, values: list[float], qs: tuple[int, ...]) -> dict:
    """`<prefix>_p<q>_s` for each q and `<prefix>_n`, the sample they come from."""
    return {f"{prefix}_n": len(values), **{f"{prefix}_p{q}_s": _percentile(values, q) for q in qs}}


def _known_sum(usage: list[dict | None], key: str, digits: int | None = None):
    """Sum of one usage field, or empty when any attempt has no usage record (unknown is not 0)."""
    if any(not isinstance(u, dict) or u.get(key) is None for u in usage):
        return ""
    total = sum(u[key] or 0 for u in usage)
    return round(total, digits) if digits is not None else total


def _reported_sum(usage: list[dict | None], key: str):
    """cached/reasoning tokens: a number only when every answered call reported the field."""
    if any(not isinstance(u, dict) or u.get(f"{key}_calls") is None or u.get("answered_calls") is None
           or u[f"{key}_calls"] != u["answered_calls"] for u in usage):
        return ""
    return sum(u.get(key) or 0 for u in usage)


def _usage_totals(attempts: list[dict], set_aside: list[dict]) -> dict:
    """Spent is spent: set-aside (interrupted, infrastructure-failed) attempts' calls count too.
    A total some attempt cannot vouch for (its record has no usage) is empty, never a partial sum."""
    usage = [a.get("usage") for a in attempts] + [x.get("usage") for x in set_aside]
    present = [u for u in usage if isinstance(u, dict)]
    sources: dict[str, int] = {}
    for u in present:
        for src, n in (u.get("token_sources") or {}).items():
            sources[src] = sources.get(src, 0) + n
    total_sourced = sum(sources.values())
    billed_calls = sum(u.get("billed_calls", 0) for u in present)
    billed = round(sum(u.get("cost_billed_usd", 0) or 0 for u in present), 6)
    latencies = [x for u in present for x in (u.get("latencies_s") or [])]
    return {
        "retries": _known_sum(usage, "retries"),
        "model_calls": _known_sum(usage, "model_calls"),
        "prompt_tokens": _known_sum(usage, "prompt_tokens"),
        "completion_tokens": _known_sum(usage, "completion_tokens"),
        "cached_tokens": _reported_sum(usage, "cached_tokens"),
        "reasoning_tokens": _reported_sum(usage, "reasoning_tokens"),
        "token_source": " ".join(f"{src} {n / total_sourced:.0%}" for src, n in sorted(sources.items())),
        "cost_usd": _known_sum(usage, "cost_usd", 6),
        "cost_list_usd": _known_sum(usage, "cost_list_usd", 6),
        "cost_billed_usd": billed if billed_calls else "",
        "cost_discrepancy_usd": (round(billed - sum(u.get("cost_list_of_billed_usd", 0) or 0 for u in present), 6)
                                 if billed_calls else ""),
        **_percentiles("latency", latencies, (50, 90, 99)),
        "wait_time_s": _known_sum(usage, "backoff_s", 1),
    }


def repo_of(instance_id: str) -> str:
    """SWE-bench's convention: `owner__name-NUMBER` is repo `owner/name`."""
    return instance_id.rsplit("-", 1)[0].replace("__", "/")


def per_task_scores(batch: dict, tasks: dict[str, list[dict]], k: int) -> dict[str, tuple[float, float]]:
    """Each task's contribution to pass@1 and pass@K under the batch's policy (docs/metrics.md).
    The pass@K part is only meaningful when `k_shortfall` is empty."""
    out = {}
    for iid, per in tasks.items():
        if not per:
            continue
        c = sum(a["outcome"] == RESOLVED for a in per)
        if not batch.get("stop_after_resolved", True):
            out[iid] = (pass_at_k(len(per), c, 1), pass_at_k(len(per), c, min(k, len(per))))
        else:
            out[iid] = (float(per[0]["outcome"] == RESOLVED), float(c > 0))
    return out


def k_shortfall(batch: dict, tasks: dict[str, list[dict]], k: int) -> list[str]:
    """Tasks whose pass@K would mix in a smaller k: fewer than K attempts (all-attempts policy), or
    fewer than K attempts and none resolved (early stopping: a resolved task needs no more)."""
    all_attempts = not batch.get("stop_after_resolved", True)
    return sorted(iid for iid, per in tasks.items() if per and len(per) < k and
                  (all_attempts or not any(a["outcome"] == RESOLVED for a in per)))


def _durations(attempts: list[dict], key: str) -> list[float]:
    return [a[key] for a in attempts if isinstance(a.get(key), (int, float))]


def _times(batch: dict, ev: dict, attempts: list[dict]) -> dict:
    """Wall, agent and evaluator time; a time nobody recorded is empty, never 0."""
    wall = batch.get("wall_seconds")
    durations = _durations(attempts, "duration_seconds")
    return {
        # each second once: the batch's wall time already holds the grading done inside it
        "wall_time_s": round(wall + (ev.get("post_batch_wall_seconds") or 0), 1) if wall is not None else "",
        "agent_time_s": round(sum(durations), 1) if len(durations) == len(attempts) else "",
        **_percentiles("attempt_wall", durations, (50, 90)),
        **_percentiles("overhead", _durations(attempts, "overhead_seconds"), (50, 90)),
        "eval_time_s": round(ev["wall_seconds"], 1) if isinstance(ev.get("wall_seconds"), (int, float)) else "",
    }


def _scores(manifest: dict, batch: dict, tasks: dict[str, list[dict]], k: int, row: dict, short: list[str]) -> dict:
    """The score cells of an ok row: rates, their intervals (one method per slice: sweboard.intervals)."""
    n_tasks = len(manifest["slice"]["instance_ids"])
    per_task = list(tasks.values())
    scores = per_task_scores(batch, tasks, k)
    repos = [repo_of(iid) for iid in scores]
    resolved = sum(1 for per in per_task if any(a["outcome"] == RESOLVED for a in per))
    low1, high1 = rate_interval([v[0] for v in scores.values()], repos)
    out = {
        "pass@1": round(sum(v[0] for v in scores.values()) / n_tasks, 4),
        "pass@1_ci_low": low1, "pass@1_ci_high": high1, "ci_method": ci_method(repos),
        "pass_estimator": (f"unbiased (n={min(len(per) for per in per_task)})"
                           if not batch.get("stop_after_resolved", True) else "first attempt / within K"),
        "resolved": resolved, "resolve_rate": round(resolved / n_tasks, 4),
        "submitted": sum(1 for per in per_task if any(a["status"] == "submitted" for a in per)),
        "empty_patches": sum(1 for per in per_task if per[-1]["outcome"] == EMPTY),
        "errors": sum(1 for per in per_task if is_failure(per[-1]["outcome"])),
        "run_fail_rate": round(row["attempts_failed"] / row["attempts_total"], 4),
    }
    if not short:
        lowk, highk = rate_interval([v[1] for v in scores.values()], repos)
        out.update({"pass@K": round(sum(v[1] for v in scores.values()) / n_tasks, 4),
                    "pass@K_ci_low": lowk, "pass@K_ci_high": highk})
        if not batch.get("stop_after_resolved", True) and k >= 2:  # on these tasks: the attempts' own spread
            total = sum(len(tasks[i]) for i in scores)
            hits = sum(a["outcome"] == RESOLVED for i in scores for a in tasks[i])
            if len(scores) == n_tasks and len({len(tasks[i]) for i in scores}) == 1:  # then hits/total is pass@1
                out["pass@1_these_tasks_ci_low"], out["pass@1_these_tasks_ci_high"] = these_tasks_interval(hits, total)
        if not batch.get("stop_after_resolved", True):  # every attempt ran: pass^K is unbiased
            every = [pass_hat_k(len(tasks[i]), sum(a["outcome"] == RESOLVED for a in tasks[i]), k) for i in scores]
            low_all, high_all = rate_interval(every, repos)
            out.update({"pass^K": round(sum(every) / n_tasks, 4), "pass^K_ci_low": low_all,
                        "pass^K_ci_high": high_all})
    if row["cost_usd"] != "":
        out["cost_per_task"] = round(row["cost_usd"] / n_tasks, 6)
        out["cost_per_resolved"] = round(row["cost_usd"] / resolved, 6) if resolved else ""
    return out


def batch_metrics(manifest: dict, model_id: str) -> dict:
    """Fold one batch into one row: the only place outcomes become numbers (docs/metrics.md)."""
    batch = manifest["batches"][model_id]
    tasks = task_outcomes(manifest, model_id)
    n_tasks = len(manifest["slice"]["instance_ids"])
    attempts = [a for per in tasks.values() for a in per]
    set_aside = batch.get("set_aside") or []
    k = max([batch.get("attempts_per_task", 1)] + [a["attempt"] for a in attempts])
    errors = {c: 0 for c in ERR_COLUMNS}
    for a in attempts:
        if is_failure(a["outcome"]):
            errors[ERROR_COLUMNS[a["outcome"]]] += 1
    ev = manifest.get("evaluations", {}).get(model_id) or {}
    status = row_status(manifest, model_id, tasks)
    row = {
        "instances": n_tasks, "K": k, "attempts_total": len(attempts),
        "attempts_mean": round(len(attempts) / n_tasks, 2) if n_tasks else "",
        "attempts_failed": sum(errors.values()), **errors,
        # the outcome chart's graded classes (not board columns): attempts, not tasks
        "attempts_resolved": sum(a["outcome"] == RESOLVED for a in attempts),
        "attempts_unresolved": sum(a["outcome"] == UNRESOLVED for a in attempts),
        "attempts_empty": sum(a["outcome"] == EMPTY for a in attempts),
        "attempts_interrupted": sum(1 for x in set_aside if x.get("reason") == "interrupted"),
        "attempts_infra_retried": sum(1 for x in set_aside if x.get("reason") == "infra"),
        "verdicts_reused": sum(1 for a in attempts if a.get("verdict_reused")),
        **_usage_totals(attempts, set_aside), **_times(batch, ev, attempts),
        **{c: "" for c in SCORE_COLUMNS},
    }
    if status == OK and n_tasks:
        short = k_shortfall(batch, tasks, k)
        row.update(_scores(manifest, batch, tasks, k, row, short))
        if short:
            status = (f"ok; pass@K empty: {len(short)} tasks have fewer than K={k} attempts "
                      f"({', '.join(short[:3])}{', ...' if len(short) > 3 else ''})")
    row.update(validity_cells(attempts))
    row["status"] = with_validity_notes(status, attempts, row)
    return row


from sweboard.validity.history import NAMESPACE as SANITIZED_NAMESPACE  # noqa: E402  images rebuilt with only the base's history


def validity_cells(attempts: list[dict]) -> dict:
    """What the validity checks found in a row's attempts: look-ups of the answer (validity/scan.py) and
    gradings that disagreed (evaluation's regrade), counted whatever the row's status."""
    flagged = [a for a in attempts if a.get("history_flags")]
    return {"attempts_flagged": len(flagged),
            "resolved_flagged": sum(1 for a in flagged if a["outcome"] == RESOLVED),
            "grader_flips": sum(1 for a in attempts if a.get("grader_flip")),
            "attempts_sanitized": sum(1 for a in attempts
                                      if str(a.get("agent_image", "")).startswith(SANITIZED_NAMESPACE + "/"))}


def with_validity_notes(status: str, attempts: list[dict], row: dict) -> str:
    """A scored row says in its status what the validity checks found; its scores stay as they are."""
    if not scored(status):
        return status
    notes = []
    resolved_flagged = [a for a in attempts if a.get("history_flags") and a["outcome"] == RESOLVED]
    if resolved_flagged:
        first = resolved_flagged[0]["history_flags"][0]
        notes.append(f"{len(resolved_flagged)} resolved attempt{'s' if len(resolved_flagged) != 1 else ''} flagged "
                     f"({first['pattern']}: {first['command'][:60]})")
    if row.get("grader_flips"):
        notes.append(f"{row['grader_flips']} grader flip{'s' if row['grader_flips'] != 1 else ''} "
                     "(two gradings disagreed; a third decided)")
    return "; ".join([status, *notes]) if notes else status


def board_key(row: dict) -> tuple:
    """Rows are ranked only against rows of the same slice and K."""
    return (row.get("dataset", ""), row.get("dataset_revision", ""), row.get("instance_ids_sha256", ""),
            row.get("split", ""), row.get("board_K", row.get("K", 0)))


def _ranks_at_run_k(manifest: dict, model_id: str) -> bool:
    batch = manifest["batches"][model_id]
    return batch.get("kind") == "baseline" or batch.get("runner") == "imported"


def ranking_k(manifest: dict, metrics: dict[str, dict], model_id: str) -> int:
    """The K a row is ranked at: its own, except the no-patch baseline's and an import's. The baseline
    is deterministic (one attempt is every attempt), so it ranks as the floor at the models' K: the
    run's configured K when a scored model row has it, else the largest K among them. Imported
    predictions have one patch a task: joined to a run, they are paired with its models on pass@1
    (first attempts), the metric ranks and pairs use, at the same K."""
    k = metrics[model_id]["K"]
    if not _ranks_at_run_k(manifest, model_id):
        return k
    others = {v["K"] for mid, v in metrics.items()
              if scored(v["status"]) and not _ranks_at_run_k(manifest, mid)}
    configured = (manifest.get("runner_config") or {}).get("attempts")
    return configured if configured in others else max(others, default=k)


def leaderboard_rows(manifests: list[dict]) -> list[dict]:
    rows = []
    for m in manifests:
        metrics = {model_id: batch_metrics(m, model_id) for model_id in m.get("batches", {})}
        baseline = next((metrics[mid]["pass@1"] for mid, b in m["batches"].items()
                         if b.get("kind") == "baseline" and scored(metrics[mid]["status"])), None)
        pairs = pairwise_rows(m, metrics)
        groups = run_rank_groups(m, metrics, pairs)
        ranks, beats = run_ranks(m, metrics, pairs)
        for model_id, batch in m["batches"].items():
            row = {"model": model_id, "provider": batch["model"].get("provider", ""), "kind": batch["kind"],
                   "runner": batch.get("runner") or "", "price_source": batch["model"].get("price_source", ""),
                   "run_id": m["run_id"], "dataset": m["dataset_lock"]["repo_id"],
                   "dataset_revision": m["dataset_lock"]["revision"], "split": m["slice"]["split"],
                   "instance_ids_sha256": m["slice"].get("instance_ids_sha256", ""), **metrics[model_id],
                   "board_K": ranking_k(m, metrics, model_id)}
            if baseline is not None and scored(row["status"]):
                row["baseline_pass@1"] = baseline
                row["delta_vs_baseline"] = round(row["pass@1"] - baseline, 4)
            if model_id in groups:
                row["rank_group"] = groups[model_id]
            if model_id in ranks:
                row["rank"] = ranks[model_id]
            if model_id in beats:
                row["beats_baseline"] = beats[model_id]
            row["cost_per_task_usd"], row["cost_per_resolved_usd"] = row["cost_per_task"], row["cost_per_resolved"]
            rows.append(row)
    kind_order = {"model": 0, "test-equipment": 1, "baseline": 2}
    # one slice and one K together (the order of first appearance), ranked within
    boards: dict[tuple, int] = {}
    for r in rows:
        boards.setdefault(board_key(r), len(boards))
    rows.sort(key=lambda r: (boards[board_key(r)], kind_order.get(r["kind"], 3), not scored(r["status"]),
                             -(r["pass@1"] or 0), -(r["pass@K"] or 0), r["model"], r["run_id"]))
    return rows


def pass1_by_task(manifest: dict, model_id: str) -> dict[str, float]:
    """Each task's pass@1 contribution (first attempt, or c/n with all attempts): what pairs are tested on."""
    batch = manifest["batches"][model_id]
    tasks = task_outcomes(manifest, model_id)
    return {iid: v[0] for iid, v in per_task_scores(batch, tasks, 1).items()}


def _k_groups(manifest: dict, metrics: dict[str, dict]) -> dict[int, list[str]]:
    """Scored rows of one run by K: ranks and their pairwise tests stay within one K."""
    out: dict[int, list[str]] = {}
    for mid in sorted(metrics):
        if scored(metrics[mid]["status"]):
            out.setdefault(ranking_k(manifest, metrics, mid), []).append(mid)
    return out


def pairwise_rows(manifest: dict, metrics: dict[str, dict] | None = None) -> list[dict]:
    """Every pair of scored rows of a run with the same K: pass@1 of each, the paired difference
    (B - A) with its 95 % interval, the exact paired p (McNemar on 0/1 tasks) and its Holm
    adjustment; distinguishable = p_holm < 0.05 (the ranks' test). Two Holm families per K: the
    models' pairs among themselves (`family` = models), and each model against the no-patch
    baseline (`vs baseline`), so the floor never changes whether two models are told apart."""
    metrics = metrics or {mid: batch_metrics(manifest, mid) for mid in manifest["batches"]}
    rows = []
    for k, models in sorted(_k_groups(manifest, metrics).items()):
        values = {mid: pass1_by_task(manifest, mid) for mid in models}
        families: dict[str, list[dict]] = {"models": [], "vs baseline": []}
        for i, a in enumerate(models):
            for b in models[i + 1:]:
                test = paired(values[a], values[b])
                family = "vs baseline" if _is_baseline(manifest, a) or _is_baseline(manifest, b) else "models"
                families[family].append({
                    "run_id": manifest["run_id"], "K": k, "family": family, "question": "on these tasks",
                    "model_a": a, "model_b": b,
                    "tasks": test.n, "pass@1_a": metrics[a]["pass@1"], "pass@1_b": metrics[b]["pass@1"],
                    "diff_b_minus_a": test.diff, "diff_ci_low": test.ci_low, "diff_ci_high": test.ci_high,
                    "both": test.both, "only_a": len(test.only_a), "only_b": len(test.only_b),
                    "p_value": round(test.p_value, 6)})
        for family in families.values():
            for row, adj in zip(family, holm([r["p_value"] for r in family])):
                row["p_holm"] = round(adj, 6)
                row["distinguishable"] = adj < ALPHA
        rows.extend(sorted(families["models"] + families["vs baseline"], key=lambda r: (r["model_a"], r["model_b"])))
    return rows


def _is_baseline(manifest: dict, model_id: str) -> bool:
    return manifest["batches"][model_id].get("kind") == "baseline"


def run_rank_groups(manifest: dict, metrics: dict[str, dict], pairs: list[dict] | None = None) -> dict[str, int]:
    """Rank groups (boards v2-v5) of a run's scored rows, per K, on pass@1 and its paired test
    (pairwise.csv). The baseline ranks with the models: it is the floor."""
    pairs = pairwise_rows(manifest, metrics) if pairs is None else pairs
    told_apart = {frozenset((r["model_a"], r["model_b"])) for r in pairs if r["distinguishable"]}
    groups = {}
    for models in _k_groups(manifest, metrics).values():
        groups.update(rank_groups(models, {mid: metrics[mid]["pass@1"] for mid in models}, told_apart))
    return groups


def run_ranks(manifest: dict, metrics: dict[str, dict], pairs: list[dict]) -> tuple[dict[str, int], dict[str, bool]]:
    """`rank` = 1 + the number of rows significantly better (the models' Holm family of one run and
    K), so a rank never suggests a difference nobody showed: tied or undistinguished rows share it.
    `beats_baseline`: the model's own comparison with the no-patch baseline (its Holm family)."""
    ranks = {mid: 1 for models in _k_groups(manifest, metrics).values() for mid in models
             if not _is_baseline(manifest, mid)}
    beats: dict[str, bool] = {}
    for r in pairs:
        a, b = r["model_a"], r["model_b"]
        if r["family"] == "vs baseline":
            if _is_baseline(manifest, a) != _is_baseline(manifest, b):
                model, sign = (b, 1) if _is_baseline(manifest, a) else (a, -1)
                beats[model] = bool(r["distinguishable"]) and sign * r["diff_b_minus_a"] > 0
        elif r["distinguishable"]:
            ranks[a if r["diff_b_minus_a"] > 0 else b] += 1
    return ranks, beats


def breakdown_rows(manifests: list[dict], by: str) -> list[dict]:
    """v2: per (run, model, repo) — or per difficulty — tasks, resolved, pass@1, pass@K and pass@1's interval."""
    rows = []
    for m in manifests:
        difficulty = (m["slice"].get("difficulty") or {})
        for model_id, batch in m["batches"].items():
            metrics = batch_metrics(m, model_id)
            if not scored(metrics["status"]):
                continue
            tasks = task_outcomes(m, model_id)
            scores = per_task_scores(batch, tasks, metrics["K"])
            groups: dict[str, list[str]] = {}
            for iid in scores:
                key = repo_of(iid) if by == "repo" else (difficulty.get(iid) or "unlabelled")
                groups.setdefault(key, []).append(iid)
            for key, ids in sorted(groups.items()):
                clusters = [repo_of(i) for i in ids]
                low, high = rate_interval([scores[i][0] for i in ids], clusters)
                rows.append({"run_id": m["run_id"], "model": model_id, "kind": batch["kind"], by: key,
                             "tasks": len(ids),
                             "resolved": sum(1 for i in ids if any(a["outcome"] == RESOLVED for a in tasks[i])),
                             "pass@1": round(sum(scores[i][0] for i in ids) / len(ids), 4),
                             "pass@K": (round(sum(scores[i][1] for i in ids) / len(ids), 4)
                                        if metrics["pass@K"] != "" else ""),
                             "pass@1_ci_low": low, "pass@1_ci_high": high, "ci_method": ci_method(clusters)})
    return rows


BY_REPO = ("run_id", "model", "kind", "repo", "tasks", "resolved", "pass@1", "pass@K", "pass@1_ci_low",
           "pass@1_ci_high", "ci_method")
BY_DIFFICULTY = ("run_id", "model", "kind", "difficulty", "tasks", "resolved", "pass@1", "pass@K", "pass@1_ci_low",
                 "pass@1_ci_high", "ci_method")
PAIRWISE = ("run_id", "K", "family", "question", "model_a", "model_b", "tasks", "pass@1_a", "pass@1_b", "diff_b_minus_a", "diff_ci_low",
            "diff_ci_high", "both", "only_a", "only_b", "p_value", "p_holm", "distinguishable")


def write_breakdowns(out_dir: Path, manifests: list[dict], by_repo: list[dict]) -> list[Path]:
    """v2's files beside the board (per repo, per difficulty) and each run's pairwise.csv. A run's
    pairwise file is derived from its (immutable) manifest alone, so it is written once and then
    only ever rewritten with the same bytes."""
    paths = [write_csv(out_dir / "leaderboard_by_repo.csv", BY_REPO, by_repo),
             write_csv(out_dir / "leaderboard_by_difficulty.csv", BY_DIFFICULTY, breakdown_rows(manifests, "difficulty"))]
    for m in manifests:
        target = runs_dir() / m["run_id"] / "pairwise.csv"
        if target.parent.is_dir():
            write_csv(target, PAIRWISE, pairwise_rows(m))
    return paths


def manifest_rows(manifests: list[dict]) -> list[dict]:
    rows = []
    for m in manifests:
        for model_id, batch in m.get("batches", {}).items():
            ev = m.get("evaluations", {}).get(model_id) or {}
            rows.append({
                "run_id": m["run_id"], "run_status": m.get("status"), "created_at": m.get("created_at"),
                "model": model_id, "kind": batch["kind"], "runner": batch.get("runner"),
                "runner_version": batch.get("runner_version"), "batch_status": batch["status"],
                "attempts": sum(len(v) for v in batch["attempts"].values()),
                "dataset": m["dataset_lock"]["repo_id"], "dataset_revision": m["dataset_lock"]["revision"],
                "split": m["slice"]["split"], "instance_ids_sha256": m["slice"].get("instance_ids_sha256"),
                "project_commit": (m.get("project") or {}).get("commit"),
                "project_dirty": (m.get("project") or {}).get("dirty"),
                "swebench": (m.get("versions") or {}).get("swebench"),
                "docker_engine": (m.get("versions") or {}).get("docker_engine"),
                "peak_cpu_percent": max(filter(None, [batch.get("peak_cpu_percent"), ev.get("peak_cpu_percent")]), default=""),
                "wall_time_s": batch.get("wall_seconds", 0.0),
                "evaluator_run_ids": " ".join(sorted(ev.get("harness_runs", {}))),
            })
    return rows


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """A text cell a spreadsheet would run as a formula (`=HYPERLINK(...)` as a model id) gets a
    leading `'`; numbers stay numbers (a negative delta is not a formula)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def plain_number(value):
    """A float as a spreadsheet and pandas read it without surprise: never exponent notation
    (`1e-06` is 0.000001), at most 10 decimals; other values unchanged."""
    if isinstance(value, float) and value == value and value not in (float("inf"), float("-inf")):
        text = repr(value)
        if "e" in text or "E" in text:
            text = f"{value:.10f}".rstrip("0").rstrip(".") or "0"
            return "0" if text in ("-0", "") else text
    return value


def write_csv(path: Path, cols: tuple[str, ...], rows: list[dict]) -> Path:
    """Write atomically: an analyst with the old file open never sees a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(cols), extrasaction="ignore")
        writer.writeheader()
        writer.writerows({c: spreadsheet_safe(plain_number(r.get(c, ""))) for c in cols} for r in rows)
    os.replace(tmp, path)
    return path


def write_run_board(run_id: str, cols: tuple[str, ...], rows: list[dict], manifest: dict, by_repo: list[dict],
                    version: str | None = None) -> list[Path]:
    """A finished run's own board: `runs/<run_id>/leaderboard.csv` (+ columns JSON) and page. Written
    once: a finished run is immutable, so an existing file is left as it is."""
    target = runs_dir() / run_id / "leaderboard.csv"
    if manifest.get("status") != "finished" or target.exists() or not target.parent.is_dir():
        return []
    from sweboard.report.columns import write_columns_json

    own = [r for r in rows if r["run_id"] == run_id]
    return [write_csv(target, cols, own), write_columns_json(target, cols, version),
            write_html(target.with_suffix(".html"), cols, own, [manifest], [b for b in by_repo if b["run_id"] == run_id],
                       base="../")]


def write_html(path: Path, cols: tuple[str, ...], rows: list[dict], manifests: list[dict], by_repo: list[dict],
               hidden: int = 0, base: str = "") -> Path:
    """The analyst's page (sweboard.report.page): sections per run, charts, every number linked;
    `hidden` unfinished runs are named as left out."""
    from sweboard.report.page import render

    return render(path, cols, rows, manifests, by_repo, ERR_COLUMNS, hidden, base)
