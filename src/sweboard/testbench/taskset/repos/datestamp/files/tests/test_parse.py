from datetime import datetime, timezone

from datestamp import parse_timestamp


def test_naive_is_utc():
    assert parse_timestamp("2024-03-01T12:00:00") == datetime(2024, 3, 1, 12, tzinfo=timezone.utc)


def test_log_format():
    assert parse_timestamp("01 Mar 2024 12:30:05") == datetime(2024, 3, 1, 12, 30, 5, tzinfo=timezone.utc)


def test_utc_designator():
    assert parse_timestamp("2024-03-01T12:00:00Z").tzinfo == timezone.utc
