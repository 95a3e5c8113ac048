"""Put a result made elsewhere on the same board: grade an external predictions file into a run.

Why: the field exchanges predictions (`all_preds.jsonl`, `preds.json`); a model run by another
harness should be comparable on the same pinned slice, images and evaluator. Each prediction
becomes attempt 1 of its task under the runner `imported` and is graded by the official
evaluator like any attempt. What sweboard did not see stays unknown, never 0: no usage, no cost,
no durations. A task of the slice without a prediction is submitted as an empty patch (it counts
in the denominator, as in SWE-bench); a prediction for a task outside the slice is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

from sweboard.catalog import ModelEntry, Provider
from sweboard.errors import SweboardError
from sweboard.instances import Slice
from sweboard.runners.base import Attempt, AttemptResult

PROVIDER = Provider("imported", None, None, None)
RUNNER = "imported"


def imported_model(name: str) -> ModelEntry:
    return ModelEntry(name, PROVIDER, 0.0, 0.0, "imported predictions: cost unknown", True)


def _element_lines(text: str) -> list[int]:
    """The line each element of a top-level JSON list starts on (errors name the line, not an index)."""
    decoder, lines = json.JSONDecoder(), []
    i = text.index("[") + 1
    while True:
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        if i >= len(text) or text[i] == "]":
            return lines
        lines.append(text.count("\n", 0, i) + 1)
        _, i = decoder.raw_decode(text, i)


def read_predictions(path: Path) -> dict[str, str]:
    """instance id -> patch, from JSONL (one prediction a line) or JSON (a list, or a dict keyed by id)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise SweboardError(f"{path}: cannot read ({exc.strerror})") from None
    items: list[tuple[str, object]] = []
    try:
        data = json.loads(text)
        if isinstance(data, dict) and isinstance(data.get("instance_id"), str):  # JSONL of one prediction
            data = [data]
        if isinstance(data, dict):
            items = [(f"{path}: [{k!r}]", v) for k, v in data.items()]
        elif isinstance(data, list):
            items = [(f"{path}:{line}", v) for line, v in zip(_element_lines(text), data)]
        else:
            raise SweboardError(f"{path}: expected a list or an object of predictions")
    except ValueError:
        items = [(f"{path}:{n}", None) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        lines = [line for line in text.splitlines() if line.strip()]
        parsed = []
        for (where, _), line in zip(items, lines):
            try:
                parsed.append((where, json.loads(line)))
            except ValueError:
                raise SweboardError(f"{where}: not a JSON object") from None
        items = parsed
    out: dict[str, str] = {}
    for where, p in items:
        if not isinstance(p, dict) or not isinstance(p.get("instance_id"), str) or not p["instance_id"]:
            raise SweboardError(f"{where}: field 'instance_id': expected a non-empty string")
        if not isinstance(p.get("model_patch"), (str, type(None))):
            raise SweboardError(f"{where}: field 'model_patch': expected a string (a diff, or empty)")
        if p["instance_id"] in out:
            raise SweboardError(f"{where}: instance {p['instance_id']} predicted twice")
        out[p["instance_id"]] = p.get("model_patch") or ""
    if not out:
        raise SweboardError(f"{path}: no predictions")
    return out


def check_against_slice(patches: dict[str, str], sl: Slice, path: Path) -> dict[str, str]:
    """The predictions, when every one is for a task of the slice (a dry run checks this too)."""
    outside = sorted(set(patches) - set(sl.instance_ids))
    if outside:
        raise SweboardError(f"{path}: {len(outside)} predictions for tasks outside the slice ({', '.join(outside[:3])}"
                            f"{', ...' if len(outside) > 3 else ''}); choose the slice they were made on")
    return patches


def fitting_slices(ids: set[str], folder: Path) -> list[tuple[Path, str, int]]:
    """(file, section, tasks) of every slice in `folder`'s instances_*.yaml holding all of `ids`, the
    exact fits first, then by size (an import's default slice is the one its predictions were made on)."""
    from sweboard.instances import load_slice
    from sweboard.yamlio import load_yaml

    fits = []
    for path in sorted(folder.glob("instances_*.yaml")):
        data = load_yaml(path)
        for section in (data if isinstance(data, dict) else {}):
            try:
                sl = load_slice(path, section)
            except SweboardError:
                continue
            if ids <= set(sl.instance_ids):
                fits.append((path, section, len(sl.instance_ids)))
    return sorted(fits, key=lambda f: (f[2] != len(ids), f[2], str(f[0]), f[1]))


def infer_slice(ids: set[str], folder: Path) -> tuple[Path, str] | None:
    """The one slice the predictions fit exactly (or the only one they fit); None when none fits; an
    error naming the candidates when several fit equally."""
    fits = fitting_slices(ids, folder)
    exact = [f for f in fits if f[2] == len(ids)]
    chosen = exact if exact else fits
    if not chosen:
        return None
    if len(chosen) > 1:
        names = ", ".join(f"{f[0].name} [{f[1]}] ({f[2]} tasks)" for f in chosen[:5])
        raise SweboardError(f"--predictions: {len(ids)} predictions fit several slices ({names}); choose one with "
                            "--instances FILE --section S")
    return chosen[0][0], chosen[0][1]


class PredictionRunner:
    """Submits the imported patch of each task (an empty one where the file has none)."""

    name = RUNNER
    metered = False  # the calls were made elsewhere: the record's usage is unknown, not 0
    needs_task_image = False  # the patch was made elsewhere: only its grading needs the image

    def __init__(self, patches: dict[str, str]):
        self.patches = patches

    def version(self) -> str | None:
        return None

    def run(self, attempt: Attempt, api_key: str | None, secrets: list[str]) -> AttemptResult:
        patch = self.patches.get(attempt.row["instance_id"], "")
        return AttemptResult("submitted" if patch.strip() else "empty", "Submitted", patch,
                             duration_seconds=None)  # the agent's time elsewhere: unknown


def import_predictions(run_id: str, model_name: str, path: Path, sl: Slice, resume: bool = False, log=print) -> dict:
    """Record the predictions as a batch of `run_id` and grade them; returns the batch entry."""
    from sweboard.batch import BatchPlan, run_batch
    from sweboard.dataset_lock import load_locked_rows
    from sweboard.evaluation import evaluate
    from sweboard.runconfig import load_runner_config

    patches = check_against_slice(read_predictions(path), sl, path)
    lock, rows = load_locked_rows(sl.dataset_lock, sl.split, list(sl.instance_ids))
    config = load_runner_config(overrides={"attempts": 1, "stop_after_resolved": "true", "runner": "mini"})
    entry = run_batch(BatchPlan(run_id, imported_model(model_name), sl, lock, rows, config),
                      PredictionRunner(patches), resume=resume, log=log)
    from sweboard import executors

    with executors.opened() as executor:
        evaluate(run_id, model_name, executor, log=log)
    return entry
