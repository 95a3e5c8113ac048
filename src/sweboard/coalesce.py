"""Coalescing: what is submitted while a call is in flight goes, all together, into the next call.

Why: a batch grades an attempt as soon as it ends (early stopping needs the verdict), and each
grading is one run of the official harness, whose fixed cost (start-up, a report) dwarfs the tests
of a small task. Attempts that end while a grading runs wait for it and then share one harness
run, so that cost is paid once per run, not once per attempt; an attempt that ends alone is
graded at once, as before.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable


@dataclass
class _Ticket:
    item: Any
    key: Hashable
    done: bool = False
    result: Any = None
    error: BaseException | None = field(default=None, repr=False)


class Coalescer:
    """`submit(item, key)` returns `call(items)[key]` (None if absent), one `call` at a time.

    The thread that finds no call in flight makes the next one, for everything queued by then;
    the others wait for it. An exception of the call is raised in every thread whose item it held.
    """

    def __init__(self, call: Callable[[list], dict]):
        self._call = call
        self._cv = threading.Condition()
        self._queue: list[_Ticket] = []
        self._busy = False
        self.calls = 0  # how many calls were made (for tests and figures)

    def submit(self, item: Any, key: Hashable) -> Any:
        ticket = _Ticket(item, key)
        with self._cv:
            self._queue.append(ticket)
            while not ticket.done:
                if self._busy:
                    self._cv.wait()
                else:
                    self._lead()
        if ticket.error is not None:
            raise ticket.error
        return ticket.result

    def _lead(self) -> None:
        """With the lock held: make one call for the whole queue, then hand out its results."""
        self._busy = True
        batch, self._queue = self._queue, []
        self.calls += 1
        self._cv.release()
        results, error = {}, None
        try:
            results = self._call([t.item for t in batch]) or {}
        except BaseException as exc:  # noqa: BLE001 - every waiter gets it (Ctrl-C included)
            error = exc
        finally:
            self._cv.acquire()
            self._busy = False
        for t in batch:
            t.result, t.error, t.done = results.get(t.key), error, True
        self._cv.notify_all()
