"""Fitting text into fixed-width columns."""


def truncate(text, width, suffix="..."):
    """Shorten ``text`` to at most ``width`` characters, ending with ``suffix`` if cut."""
    if width < len(suffix):
        raise ValueError(f"width {width} is smaller than the suffix {suffix!r}")
    if len(text) <= width:
        return text
    return text[:width] + suffix
