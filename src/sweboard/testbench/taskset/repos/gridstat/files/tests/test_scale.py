import numpy as np

from gridstat import normalize, zscore


def test_normalize_constant_is_zero():
    assert normalize([3, 3, 3]).tolist() == [0.0, 0.0, 0.0]


def test_normalize_starts_at_zero():
    assert normalize([0, 5, 10]).tolist() == [0.0, 0.5, 1.0]


def test_zscore_mean_zero():
    assert abs(zscore([1, 2, 3, 4]).mean()) < 1e-12


def test_zscore_constant_is_zero():
    assert np.all(zscore([7, 7]) == 0)
