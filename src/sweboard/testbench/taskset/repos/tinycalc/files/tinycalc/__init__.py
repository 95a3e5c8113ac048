"""tinycalc: small numeric helpers."""

from tinycalc.rounding import round_half_up
from tinycalc.stats import clamp, mean, median

__all__ = ["clamp", "mean", "median", "round_half_up"]
__version__ = "0.1.0"
