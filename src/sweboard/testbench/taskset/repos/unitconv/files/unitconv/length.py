# metres per unit
FACTORS = {"m": 1.0, "km": 1000.0, "cm": 0.01, "mm": 0.001, "in": 0.0254, "ft": 0.3048, "mi": 1609.344}


def unit_name(unit):
    """The canonical symbol of a length unit."""
    if unit not in FACTORS:
        raise KeyError(f"unknown length unit: {unit}")
    return unit


def convert_length(value, src, dst):
    """`value` in unit `src`, expressed in unit `dst`."""
    src, dst = unit_name(src), unit_name(dst)
    return value * FACTORS[dst] / FACTORS[src]
