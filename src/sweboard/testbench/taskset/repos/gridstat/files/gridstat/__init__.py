"""Small numpy helpers."""
from gridstat.grid import neighbors_sum
from gridstat.scale import normalize, zscore
from gridstat.smooth import moving_average

__all__ = ["moving_average", "neighbors_sum", "normalize", "zscore"]
