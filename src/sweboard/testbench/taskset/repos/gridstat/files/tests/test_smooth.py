import pytest

from gridstat import moving_average


def test_window_longer_than_data_is_refused():
    with pytest.raises(ValueError):
        moving_average([1, 2], 3)


def test_window_one_is_identity_values():
    assert list(moving_average([1, 2, 3], 1)) == [1.0, 2.0, 3.0]
