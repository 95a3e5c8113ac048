"""Grader stability: chosen attempts are graded a second time, by an independent harness run.

Why: the same patches have graded 30/50 on one grader and 39/50 on another; gold patches on a loaded
grader resolve less than all. A verdict the evaluator gives once is one draw. So, after the run's
gradings, `evaluation_regrade` picks attempts to grade again in a fresh harness run (a fresh
evaluator run id; on a cluster, wherever a slot is free rather than the attempt's own node):

- `auto` (the default): the resolved attempts of real models (test equipment and the baseline are
  not regraded), and a sample (`evaluation_regrade_sample`, 10 %) of their other graded attempts;
- `resolved`: the same for every row; `all`: every graded attempt; `none`: nothing.

Two gradings that disagree are a **grader flip**: both verdicts are kept, the attempt is left out of
pass@k (pending) until a third, independent grading decides by majority, and the row counts its
flips (`grader_flips`) and names them in its status. A grading that swebench itself calls
*ambiguous* (a missing module, no tests collected, tests timed out) is always graded once more; an
*environment* failure is no verdict at all (evaluation.py) and is graded again later.
The sample is chosen by a hash of the attempt (run, model, task, attempt), never by chance: a rerun
of the evaluation picks the same attempts.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sweboard.records import read_regrades, read_verdict

MODES = ("auto", "resolved", "all", "none")


def mode_for(cfg: dict, kind: str) -> str:
    """The regrade mode of a row: `auto` is `resolved` for real models and `none` for the rest."""
    mode = cfg.get("evaluation_regrade", "auto")
    return ("resolved" if kind == "model" else "none") if mode == "auto" else mode


def _sampled(key: str, share: float) -> bool:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < share


def gradings(run_root: Path, attempt_dir: Path) -> list[dict]:
    """Every grading of an attempt, first first; a reused verdict is followed to the grading it reused."""
    first = read_verdict(attempt_dir)
    if first is None:
        return []
    source = first.get("reused_from")
    if source:
        origin = (run_root / source).parent
        if origin.is_dir():
            return [first, *read_regrades(origin)]
    return [first, *read_regrades(attempt_dir)]


def settle(grades: list[dict]) -> tuple[dict | None, bool]:
    """(the verdict that counts, whether the gradings disagreed): the first when all agree, the majority
    after a third grading, None (open: pending) while two disagree and no third has graded."""
    if not grades:
        return None, False
    words = [(g.get("verdict"), g.get("error_class") or "") for g in grades]
    if len(set(words)) == 1:
        return grades[0], False
    if len(grades) < 3:
        return None, True
    best = max(set(words), key=words.count)
    return (grades[words.index(best)] if words.count(best) * 2 > len(words) else None), True


def next_regrade(run_id: str, model_id: str, iid: str, k: int, attempt_dir: Path, mode: str, share: float) -> int:
    """Which regrading this attempt needs now (1 or 2), or 0: a first regrade by the mode, a third grading
    after a flip, and always one more after an ambiguous grading."""
    first = read_verdict(attempt_dir)
    if first is None or first.get("reused_from") or first.get("verdict") == "empty_patch":
        return 0
    regrades = read_regrades(attempt_dir)
    _, flipped = settle([first, *regrades])
    if flipped and len(regrades) == 1:
        return 2  # two gradings disagree: a third decides
    if regrades:
        return 0
    if first.get("infra_ambiguous"):
        return 1
    if mode == "all":
        return 1
    if mode == "resolved":
        return 1 if first.get("verdict") == "resolved" or _sampled(f"{run_id}\0{model_id}\0{iid}\0{k}", share) else 0
    return 0
