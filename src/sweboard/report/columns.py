"""`<csv>.columns.json`: what each column of a board's CSV is, beside the CSV.

Why: a header comment would not be CSV, and a spreadsheet (or pandas) reading a column with an
empty cell guesses floats for integers. The sidecar names each column's type and description;
an empty cell is unknown or not applicable, never 0 (the row's `status` says why).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sweboard.paths import config_dir
from sweboard.yamlio import load_yaml

INTEGER_COLUMNS = {"instances", "K", "attempts_total", "resolved", "submitted", "empty_patches", "errors",
                   "attempts_failed", "attempts_interrupted", "attempts_infra_retried", "verdicts_reused", "retries",
                   "model_calls", "prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens",
                   "rank_group", "rank", "latency_n", "attempt_wall_n", "overhead_n"}


def column_type(name: str) -> str:
    """integer | fraction | usd | seconds | text: how a spreadsheet should read the column (an empty
    cell is unknown or not applicable, never 0; `status` says why)."""
    if name in INTEGER_COLUMNS or name.startswith("err_"):
        return "integer"
    if name == "attempts_mean":
        return "number"
    if name.startswith(("pass@", "pass^", "baseline_pass@")) or name.endswith(("_rate", "_ci_low", "_ci_high")) \
            or name == "delta_vs_baseline":
        return "fraction"
    if name.startswith("cost") or name.endswith("_usd"):
        return "usd"
    if name.endswith("_s"):
        return "seconds"
    return "text"


def write_columns_json(csv_path: Path, cols: tuple[str, ...], version: str | None = None) -> Path:
    """`<csv>.columns.json` beside a CSV: each column's name, type and description (a header
    comment would not be CSV), so a spreadsheet or pandas reads integers as integers."""
    data = load_yaml(config_dir() / "leaderboard_columns.yaml")
    described = data.get("descriptions") or {}
    out = csv_path.with_name(csv_path.stem + ".columns.json")
    payload = {"csv": csv_path.name, "version": version or data.get("default"), "definitions": "docs/metrics.md",
               "empty_cell": "unknown or not applicable; the row's status says why",
               "columns": [{"name": c, "type": column_type(c), "description": described.get(c, "")} for c in cols]}
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=1) + "\n")
    os.replace(tmp, out)
    return out
