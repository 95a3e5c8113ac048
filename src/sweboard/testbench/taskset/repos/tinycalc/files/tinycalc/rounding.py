"""Rounding the way invoices expect it: halves go away from zero."""

import math


def round_half_up(value, ndigits=0):
    """Round ``value`` to ``ndigits`` decimals, halves away from zero.

    Python's built-in ``round`` uses banker's rounding (``round(2.5) == 2``);
    reports need ``2.5 -> 3`` and ``-2.5 -> -3``.
    """
    factor = 10 ** ndigits
    return math.floor(value * factor + 0.5) / factor
