import numpy as np


def neighbors_sum(grid):
    """For each cell, the sum of its four neighbours (up, down, left, right); cells off the grid count 0."""
    g = np.asarray(grid, dtype=float)
    out = np.zeros_like(g)
    out[1:, :] += g[:-1, :]
    out[:-1, :] += g[1:, :]
    out[:, 1:] += g[:, :-1]
    out[:, :-1] += g[:, :-1]
    return out
