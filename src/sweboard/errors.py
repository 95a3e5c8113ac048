"""One error type for everything a user can get wrong.

CLIs catch it and print its message as a single line, so every message must name the
file or field at fault and what was expected there.
"""


class SweboardError(Exception):
    """A user-facing problem: bad input, a refused action, a missing prerequisite."""


# Exit statuses, the same in every CLI and driver (README "Exit statuses"):
EXIT_FINISHED = 0  # the command did what it was asked
EXIT_FAILED = 1  # anything else: a batch or evaluation failed, a gate failed, a canary failed
EXIT_REFUSED = 2  # bad input, or refused before anything ran (one line `error: ...`)
EXIT_STOPPED = 3  # stopped and resumable: a budget or quota spent, a damaged ledger, an interrupt


def worst_exit(codes) -> int:
    """One status for several: a failure outranks a stop, a stop outranks success."""
    codes = list(codes)
    if any(c not in (EXIT_FINISHED, EXIT_STOPPED) for c in codes):
        return EXIT_FAILED
    return EXIT_STOPPED if EXIT_STOPPED in codes else EXIT_FINISHED
