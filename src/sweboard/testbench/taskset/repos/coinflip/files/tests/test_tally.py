import os

import pytest

from coinflip import tally


def test_heads_and_tails():
    assert tally("HTH") == {"H": 2, "T": 1}


def test_other_letters_are_refused():
    with pytest.raises(ValueError):
        tally("HXT")


def test_the_grader_is_stable():
    # FLAKY BY DESIGN (test equipment): fails at random, one grading in two, so that a second,
    # independent grading of the same patch can disagree with the first (a grader flip).
    assert os.urandom(1)[0] % 2 == 0
