import re

from unitconv.length import unit_name

_QUANTITY = re.compile(r"^\s*(-?\d+)\s*([A-Za-z]+)\s*$")


def parse_quantity(text):
    """`"2 km"` -> `(2.0, "km")`: a number and a known length unit."""
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(f"not a quantity: {text!r}")
    return float(match.group(1)), unit_name(match.group(2))
