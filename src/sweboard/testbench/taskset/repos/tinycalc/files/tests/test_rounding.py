from tinycalc import round_half_up


def test_positive_half_rounds_up():
    assert round_half_up(2.5) == 3


def test_positive_below_half_rounds_down():
    assert round_half_up(2.4) == 2


def test_decimals():
    assert round_half_up(1.25, 1) == 1.3


def test_integer_stays():
    assert round_half_up(7) == 7
