"""textkit: text utilities for URLs and terminal output."""

from textkit.normalize import collapse_whitespace, strip_accents
from textkit.slug import slugify
from textkit.wrap import truncate

__all__ = ["collapse_whitespace", "slugify", "strip_accents", "truncate"]
__version__ = "1.0.0"
