"""API keys from `secrets/credentials.txt` (`KEY=value` lines), never echoed anywhere.

The same file is sourced by `tools/env.sh` for the shell. Values live only in memory and in
the environment of the one child process that needs them; `redact()` scrubs them from any
text before it is written to a log, manifest or trajectory.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from sweboard.errors import SweboardError
from sweboard.paths import secrets_file

KEY_SUFFIXES = ("_API_KEY", "_TOKEN", "_SECRET")  # variable names that hold keys: never passed to an agent
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_credentials(path: Path) -> dict[str, str]:
    """Parse `KEY=value` lines; blank lines and `#` comments are allowed.

    A malformed line is reported by number only: its text may be a secret.
    """
    creds: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8-sig")  # an editor's byte-order mark is not part of line 1
    except UnicodeDecodeError:
        raise SweboardError(f"{path}: not UTF-8 text; expected KEY=value lines") from None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not _KEY.match(key):
            raise SweboardError(f"{path}: line {number} is not KEY=value (expected a name like CHUTES_API_KEY, '=', the value)")
        value = _value(value.strip())
        if value is None:
            raise SweboardError(f"{path}: line {number}: a quoted value is not closed, or text follows it "
                                "(expected KEY=\"value\" optionally followed by # comment)")
        creds[key] = value
    return creds


def _value(text: str) -> str | None:
    """The value as a shell would read it: quotes removed, a trailing ` # comment` dropped."""
    if text[:1] in ("'", '"'):
        end = text.find(text[0], 1)
        if end < 0:
            return None
        rest = text[end + 1:].strip()
        return text[1:end] if not rest or rest.startswith("#") else None
    comment = re.search(r"\s#", text)
    return (text[:comment.start()] if comment else text).strip()


def load_credentials(path: Path | None = None) -> dict[str, str]:
    """Credentials file merged under the process environment (the environment wins)."""
    path = path or secrets_file()
    creds = parse_credentials(path) if path.is_file() else {}
    for key in list(creds):
        if os.environ.get(key):
            creds[key] = os.environ[key]
    return creds


def get_key(name: str, creds: dict[str, str] | None = None) -> str | None:
    if os.environ.get(name):
        return os.environ[name]
    creds = load_credentials() if creds is None else creds
    return creds.get(name) or None


def secret_values(creds: dict[str, str] | None = None) -> list[str]:
    """Every value worth scrubbing: the file's values and known key variables in the environment."""
    creds = load_credentials() if creds is None else creds
    values = set(creds.values())
    for name, value in os.environ.items():
        if name.endswith(KEY_SUFFIXES) and value:
            values.add(value)
    return sorted((v for v in values if len(v) >= 6), key=len, reverse=True)


def redact(text: str, secrets: list[str]) -> str:
    for value in secrets:
        text = text.replace(value, "***")
    return text


def provider_key(model) -> str | None:
    """The key a catalog model's provider needs (None for the baseline, canaries, imports and keyless
    providers), or one line naming the variable that is missing."""
    env = model.provider.api_key_env
    if not model.calls_a_model or env is None:
        return None
    key = get_key(env)
    if not key:
        raise SweboardError(f"model {model.id}: {env} is not set in secrets/credentials.txt or the environment")
    return key
