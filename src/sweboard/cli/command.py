"""What every command shares: one `error:` line for a user's mistake, exit statuses, Ctrl-C and SIGTERM."""

from __future__ import annotations

import functools
import sys

from sweboard.errors import EXIT_FAILED, EXIT_STOPPED, SweboardError


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled exactly like Ctrl-C: children and containers stopped, artifacts scrubbed."""


def _on_signal(signum, frame):
    """The first Ctrl-C or SIGTERM stops the command; later ones are ignored so that they cannot cut the
    clean-up short (children and containers stopped, attempt folders scrubbed, the manifest written).
    A Ctrl-C at a terminal reaches every batch of `run_models` and the scheduler forwards SIGTERM too."""
    import signal

    # a handler that does nothing, not SIG_IGN: a signal already on its way would surface as an
    # OSError ("ignored due to race condition") in the middle of the clean-up
    signal.signal(signal.SIGINT, _after_the_first)
    signal.signal(signal.SIGTERM, _after_the_first)
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _after_the_first(signum, frame):
    """Later Ctrl-C / SIGTERM while the command stops: nothing to do, it is already stopping."""


def command(func):
    @functools.wraps(func)
    def wrapper(argv: list[str] | None = None) -> int:
        import signal
        import threading

        main = threading.current_thread() is threading.main_thread()
        before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) if main else None
        if main:
            signal.signal(signal.SIGTERM, _on_signal)
            if before[0] is signal.default_int_handler:
                signal.signal(signal.SIGINT, _on_signal)
        try:
            return func(argv) or 0
        except SweboardError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:  # the disk is full, a folder is not writable: one line, never a traceback chain
            where = f"{exc.filename}: " if exc.filename else ""
            print(f"error: {where}{exc.strerror or exc}; what was written before is kept", file=sys.stderr)
            return EXIT_FAILED
        except KeyboardInterrupt as exc:
            print(f"{'terminated' if isinstance(exc, Terminated) else 'interrupted'}: finished attempts are kept; "
                  "rerun with --resume to continue", file=sys.stderr)
            return EXIT_STOPPED
        finally:
            if before is not None:  # called in-process (tests): leave the caller's handlers as they were
                signal.signal(signal.SIGINT, before[0])
                signal.signal(signal.SIGTERM, before[1])
    return wrapper


def checked(tool: str, args, *parts: str, **options):
    """The one way in: the command's arguments as a run request, through every rule (`sweboard.request`).
    With `--cluster`, this process and every batch it starts run their attempts there."""
    from sweboard import executors
    from sweboard.request import from_args, validate

    result = validate(from_args(tool, args, *parts, **options))
    executors.use_cluster(result.request.cluster)
    return result
