"""Unit conversions."""
from unitconv.length import convert_length
from unitconv.parse import parse_quantity
from unitconv.temperature import from_kelvin, to_kelvin

__all__ = ["convert_length", "from_kelvin", "parse_quantity", "to_kelvin"]
