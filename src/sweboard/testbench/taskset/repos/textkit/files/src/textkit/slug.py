"""URL slugs."""

import re

from textkit.normalize import collapse_whitespace

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(text, separator="-"):
    """Lower-case ASCII slug of ``text``: words joined by ``separator``."""
    text = collapse_whitespace(text).lower()
    return _NOT_SLUG.sub(separator, text).strip(separator)
