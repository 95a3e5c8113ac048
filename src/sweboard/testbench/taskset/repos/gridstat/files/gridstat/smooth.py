import numpy as np

from gridstat._checks import check_window


def moving_average(values, window):
    """The mean of every full run of `window` consecutive values (n - window + 1 of them)."""
    arr = np.asarray(values, dtype=float)
    check_window(window, len(arr))
    kernel = np.ones(window) / window
    return np.convolve(arr, kernel, mode="same")
