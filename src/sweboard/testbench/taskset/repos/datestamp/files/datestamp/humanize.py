"""Durations for humans."""

_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def format_duration(seconds):
    """Format a non-negative number of seconds as e.g. ``'1h 2m'`` (largest two units)."""
    if seconds < 0:
        raise ValueError("duration must not be negative")
    seconds = int(seconds)
    if seconds == 0:
        return "0s"
    parts = []
    for name, size in _UNITS:
        if seconds > size:
            count, seconds = divmod(seconds, size)
            parts.append(f"{count}{name}")
        if len(parts) == 2:
            break
    return " ".join(parts)
