"""Reading YAML config files with errors that name the file and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sweboard.errors import SweboardError


def load_yaml(path: Path) -> Any:
    if not path.is_file():
        raise SweboardError(f"{path}: file not found")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise SweboardError(f"{path}:{where} is not valid YAML ({getattr(exc, 'problem', exc)})") from None


def require(mapping: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """Return mapping[key], or fail naming `where.key` and the expected type."""
    if not isinstance(mapping, dict):
        raise SweboardError(f"{where}: expected a mapping, got {type(mapping).__name__}")
    if key not in mapping:
        raise SweboardError(f"{where}.{key}: missing (expected {_kind_name(kind)})")
    value = mapping[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SweboardError(f"{where}.{key}: expected {_kind_name(kind)}, got {value!r}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    if isinstance(kind, tuple):
        return " or ".join(k.__name__ for k in kind)
    return kind.__name__
