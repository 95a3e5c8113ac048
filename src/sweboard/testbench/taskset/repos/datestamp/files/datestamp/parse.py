"""Parsing timestamps into aware UTC datetimes."""

from datetime import timezone

from dateutil import parser


def parse_timestamp(text):
    """Parse ``text`` (ISO 8601 or a common log format) into a UTC ``datetime``.

    Naive timestamps are taken to be UTC already.
    """
    parsed = parser.parse(text)
    return parsed.replace(tzinfo=timezone.utc)
