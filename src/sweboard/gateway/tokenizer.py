"""The model's own tokenizer, when a reply reports no usage: the middle step between the provider's
count and the 4-characters-a-token approximation (the plan's i4: "provider-reported; fall back to
official tokenizer, then documented approximation").

Why a file in the cache and never a download at call time: the gateway answers calls; it must not
wait on (or be steered by) a hub. `tools/check_catalog.py --tokenizers` fetches each enabled
model's `tokenizer.json` (the catalog's `tokenizer` field names the Hugging Face repo) once, into
`<cache>/tokenizers/` beside the dataset cache; a model whose file is absent falls back to the
approximation, and `token_source` says which was used. The file is read as data (the `tokenizers`
library parses JSON; nothing in it runs).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from sweboard.paths import cache_dir

MAX_BYTES = 64 * 1024 * 1024  # a tokenizer.json is a few MB; anything far larger is not one


def tokenizer_path(name: str) -> Path:
    """Where a tokenizer named by its repo id (`org/name`) is cached."""
    return cache_dir() / "tokenizers" / re.sub(r"[^A-Za-z0-9._-]", "__", name) / "tokenizer.json"


@lru_cache(maxsize=16)
def _load(path: str, size: int, mtime: float):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(path)


def load(name: str | None):
    """The cached tokenizer for `name`, or None (no name, no file, too large, or not a tokenizer)."""
    if not name:
        return None
    path = tokenizer_path(name)
    try:
        st = path.stat()
        if not path.is_file() or path.is_symlink() or st.st_size > MAX_BYTES:
            return None
        return _load(str(path), st.st_size, st.st_mtime)
    except Exception:  # a damaged file is the approximation's case, never a failed call
        return None


def count(tok, text: str) -> int:
    return len(tok.encode(text, add_special_tokens=False).ids)


def fetch(name: str) -> Path:
    """Download `name`'s tokenizer.json from the Hugging Face hub into the cache (operator step)."""
    from huggingface_hub import hf_hub_download

    from sweboard.errors import SweboardError

    target = tokenizer_path(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        got = Path(hf_hub_download(repo_id=name, filename="tokenizer.json", cache_dir=str(target.parent / "hub")))
    except Exception as exc:  # noqa: BLE001 - the hub's many errors are one line for the operator
        raise SweboardError(f"tokenizer {name}: could not fetch tokenizer.json ({type(exc).__name__})") from None
    if got.stat().st_size > MAX_BYTES:
        raise SweboardError(f"tokenizer {name}: tokenizer.json is {got.stat().st_size} bytes (> {MAX_BYTES}); refused")
    tmp = target.with_name(".tokenizer.json.tmp")
    tmp.write_bytes(got.read_bytes())
    tmp.replace(target)
    if load(name) is None:
        target.unlink()
        raise SweboardError(f"tokenizer {name}: the fetched tokenizer.json does not load")
    return target
