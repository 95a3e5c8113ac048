def to_kelvin(value, unit):
    """A temperature in C, F or K, in kelvin."""
    if unit == "C":
        return value + 273.15
    if unit == "F":
        return (value - 32) * 5 / 9 + 273.15
    if unit == "K":
        return value
    raise KeyError(f"unknown temperature unit: {unit}")


def from_kelvin(value, unit):
    """A temperature in kelvin, in C, F or K."""
    if unit == "C":
        return value - 273.15
    if unit == "F":
        return (value - 273.15) * 5 / 9 + 32
    if unit == "K":
        return value
    raise KeyError(f"unknown temperature unit: {unit}")
