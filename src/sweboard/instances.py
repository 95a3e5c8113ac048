"""Pinned instance slices (`config/instances_*.yaml`).

A slice file has one section per dataset (e.g. `swe-bench-lite`, `offline`), each naming
its dataset lock, split and instance ids (with an optional one-line rationale per id).
Runner filters are derived from here; an id the locked dataset lacks is an error.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from sweboard.errors import SweboardError
from sweboard.paths import project_root
from sweboard.yamlio import load_yaml, require


DIFFICULTIES = ("easy", "medium")


@dataclass(frozen=True)
class Slice:
    path: Path
    section: str
    dataset_lock: Path
    split: str
    instance_ids: tuple[str, ...]
    rationale: dict[str, str]
    difficulty: dict[str, str] = field(default_factory=dict)  # easy | medium, where the slice says

    @property
    def ids_hash(self) -> str:
        return hashlib.sha256(json.dumps(list(self.instance_ids)).encode()).hexdigest()

    def filter_regex(self) -> str:
        """A regex selecting exactly these ids (for runners that take `--filter`)."""
        import re

        return "^(" + "|".join(re.escape(i) for i in self.instance_ids) + ")$"


def load_slice(path: Path, section: str) -> Slice:
    data = load_yaml(path)
    if not isinstance(data, dict) or section not in data:
        have = sorted(data) if isinstance(data, dict) else []
        raise SweboardError(f"{path}: no section {section!r}; expected one of {have}")
    spec = data[section]
    where = f"{path}: {section}"
    ids, rationale, difficulty = [], {}, {}
    for i, item in enumerate(require(spec, "instances", list, where)):
        if isinstance(item, str):
            ids.append(item)
        elif isinstance(item, dict) and isinstance(item.get("id"), str):
            ids.append(item["id"])
            rationale[item["id"]] = str(item.get("why", ""))
            if "difficulty" in item:
                if item["difficulty"] not in DIFFICULTIES:
                    raise SweboardError(f"{where}.instances[{i}].difficulty: expected one of {list(DIFFICULTIES)}, "
                                        f"got {item['difficulty']!r}")
                difficulty[item["id"]] = item["difficulty"]
        else:
            raise SweboardError(f"{where}.instances[{i}]: expected an id or {{id: ..., why: ...}}, got {item!r}")
    if not ids:
        raise SweboardError(f"{where}.instances: empty; expected at least one instance id")
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise SweboardError(f"{where}.instances: duplicate ids {dupes}")
    lock = Path(require(spec, "dataset_lock", str, where))
    return Slice(
        path=path, section=section,
        dataset_lock=lock if lock.is_absolute() else project_root() / lock,
        split=require(spec, "split", str, where),
        instance_ids=tuple(ids), rationale=rationale, difficulty=difficulty,
    )


def select(sl: Slice, instance_ids: list[str] | None = None, pattern: str | None = None,
           span: str | None = None) -> Slice:
    """Narrow a slice the way users of the field's tools do: `--instance-ids a b`, `--filter REGEX`
    (searched in each id), `--slice START:STOP` (Python slicing of the slice's order), applied in that
    order. The result is its own experiment (its own instance-id hash)."""
    import re

    ids = list(sl.instance_ids)
    where = f"{sl.path}: {sl.section}"
    if instance_ids:
        unknown = sorted(set(instance_ids) - set(ids))
        if unknown:
            raise SweboardError(f"--instance-ids: {unknown} are not in {where}; expected some of {ids[:5]}...")
        ids = [i for i in ids if i in set(instance_ids)]
    if pattern:
        try:
            rx = re.compile(pattern)
        except re.error as exc:
            raise SweboardError(f"--filter {pattern!r}: not a regular expression ({exc})") from None
        ids = [i for i in ids if rx.search(i)]
    if span:
        m = re.fullmatch(r"(-?\d*):(-?\d*)", span.strip())
        if not m:
            raise SweboardError(f"--slice {span!r}: expected START:STOP (e.g. 0:5)")
        start, stop = (int(x) if x else None for x in m.groups())
        ids = ids[start:stop]
    if not ids:
        raise SweboardError(f"the selection leaves no task of {where}; loosen --instance-ids / --filter / --slice")
    keep = set(ids)
    return Slice(sl.path, sl.section, sl.dataset_lock, sl.split, tuple(ids),
                 {k: v for k, v in sl.rationale.items() if k in keep},
                 {k: v for k, v in sl.difficulty.items() if k in keep})


def same_selection(run_id: str, sl, manifest: dict | None, preflight: dict | None) -> None:
    """The request's tasks are the run's (and those its preflight checked): a run is one experiment."""
    if manifest is not None and manifest["slice"].get("instance_ids_sha256") != sl.ids_hash:
        raise SweboardError(f"run {run_id} was started on another task selection ({manifest['slice']['file']} "
                            f"[{manifest['slice']['section']}], {len(manifest['slice']['instance_ids'])} tasks; this "
                            f"request: {len(sl.instance_ids)} tasks); use the same selection, or a new --run-id")
    if preflight is not None and preflight.get("instance_ids_sha256") not in (None, sl.ids_hash):
        raise SweboardError(f"run {run_id}: its preflight checked another task selection than this request's "
                            f"{len(sl.instance_ids)} tasks; use the same selection, or a new --run-id")
