import pytest

from textkit import truncate


def test_short_text_unchanged():
    assert truncate("abc", 10) == "abc"


def test_exact_width_unchanged():
    assert truncate("abcdef", 6) == "abcdef"


def test_width_smaller_than_suffix():
    with pytest.raises(ValueError):
        truncate("abcdef", 2)
