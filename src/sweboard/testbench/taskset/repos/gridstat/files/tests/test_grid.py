import numpy as np

from gridstat import neighbors_sum


def test_single_cell_has_no_neighbours():
    assert neighbors_sum([[5]]).tolist() == [[0.0]]


def test_column_sums_up_and_down():
    assert neighbors_sum(np.array([[1], [2], [3]])).tolist() == [[2.0], [4.0], [2.0]]
