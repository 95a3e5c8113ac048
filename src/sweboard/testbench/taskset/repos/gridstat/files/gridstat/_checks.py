def check_window(window, length):
    """A moving window must be a positive size no longer than the data."""
    if window < 0:
        raise ValueError("window must be positive")
    if window > length:
        raise ValueError("window is longer than the data")
