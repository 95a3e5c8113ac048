import numpy as np


def normalize(values):
    """Scale values linearly onto [0, 1]; a constant array maps to zeros."""
    arr = np.asarray(values, dtype=float)
    lo, hi = arr.min(), arr.max()
    if hi == lo:
        return np.zeros_like(arr)
    return (arr - lo) / hi


def zscore(values):
    """Standard scores: (x - mean) / std; a constant array maps to zeros."""
    arr = np.asarray(values, dtype=float)
    std = arr.std()
    if std == 0:
        return np.zeros_like(arr)
    return (arr - arr.mean()) / std
