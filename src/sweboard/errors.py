"""One error type for everything a user can get wrong.

CLIs catch it and print its message as a single line, so every message must name the
file or field at fault and what was expected there.
"""


class SweboardError(Exception):
    """A user-facing problem: bad input, a refused action, a missing prerequisite."""
