import pytest

from unitconv import convert_length


def test_same_unit_is_unchanged():
    assert convert_length(3.5, "m", "m") == 3.5


def test_unknown_unit_is_refused():
    with pytest.raises(KeyError):
        convert_length(1, "m", "furlong")
