import pytest

from datestamp import format_duration


def test_zero():
    assert format_duration(0) == "0s"


def test_seconds_and_minutes():
    assert format_duration(125) == "2m 5s"


def test_days_and_hours():
    assert format_duration(90061) == "1d 1h"


def test_negative_rejected():
    with pytest.raises(ValueError):
        format_duration(-1)
