import pytest

from pricetag import price


def test_two_digit_cents():
    assert price(1050) == "$10.50"


def test_negative_amounts():
    assert price(-250) == "-$2.50"


def test_floats_are_refused():
    with pytest.raises(TypeError):
        price(10.5)
