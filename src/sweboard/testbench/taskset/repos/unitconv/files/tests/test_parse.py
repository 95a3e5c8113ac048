import pytest

from unitconv import parse_quantity


def test_whole_number():
    assert parse_quantity("2 km") == (2.0, "km")


def test_garbage_is_refused():
    with pytest.raises(ValueError):
        parse_quantity("two km")
