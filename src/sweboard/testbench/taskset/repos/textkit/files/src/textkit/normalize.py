"""Normalisation helpers shared by the rest of textkit."""

import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")


def collapse_whitespace(text):
    """Replace every run of whitespace by one space and trim the ends."""
    return _WHITESPACE.sub(" ", text).strip()


def strip_accents(text):
    """Return ``text`` with accents removed from letters."""
    return unicodedata.normalize("NFC", text)
