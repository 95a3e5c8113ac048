"""Formatting amounts of money held as integer cents."""


def price(cents):
    """``cents`` as dollars with two decimals: ``1050 -> "$10.50"``, ``-250 -> "-$2.50"``."""
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise TypeError("price() takes whole cents (an int)")
    dollars, rest = divmod(abs(cents), 100)
    sign = "-" if cents < 0 else ""
    return f"{sign}${dollars}.{rest}"
