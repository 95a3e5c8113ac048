"""datestamp: timestamp parsing and human-friendly durations."""

from datestamp.humanize import format_duration
from datestamp.parse import parse_timestamp

__all__ = ["format_duration", "parse_timestamp"]
__version__ = "2.3.0"
