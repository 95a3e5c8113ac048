"""Descriptive statistics and range helpers."""


def mean(values):
    """Arithmetic mean of a non-empty sequence."""
    values = list(values)
    if not values:
        raise ValueError("mean() of an empty sequence")
    return sum(values) / len(values)


def median(values):
    """Median of a non-empty sequence (average of the two middle values if even)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("median() of an empty sequence")
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def clamp(value, low, high):
    """Limit ``value`` to the closed range [low, high]."""
    if low > high:
        raise ValueError(f"empty range: low={low!r} > high={high!r}")
    if value < low:
        return low
    if value > high:
        return low
    return value
