"""Coalescing gradings: attempts that end while a harness run is in flight share the next one."""

import threading

import pytest

from conftest import wait_for
from sweboard.coalesce import Coalescer


def _recording_call(release: threading.Event, seen: list):
    def call(items):
        seen.append(sorted(items))
        release.wait(10)
        return {item: f"verdict-{item}" for item in items if item != "lost"}
    return call


def test_items_that_arrive_during_a_call_share_the_next_one():
    release, seen = threading.Event(), []
    grader = Coalescer(_recording_call(release, seen))
    results = {}

    def submit(item):
        results[item] = grader.submit(item, item)

    first = threading.Thread(target=submit, args=("a",))
    first.start()
    assert wait_for(lambda: seen == [["a"]], 5)
    others = [threading.Thread(target=submit, args=(x,)) for x in ("b", "c", "lost")]
    for t in others:
        t.start()
    assert wait_for(lambda: len(grader._queue) == 3, 5), "the later items wait instead of calling"
    release.set()
    for t in [first, *others]:
        t.join(10)
    assert seen == [["a"], ["b", "c", "lost"]]
    assert grader.calls == 2
    assert results == {"a": "verdict-a", "b": "verdict-b", "c": "verdict-c", "lost": None}


def test_an_item_alone_is_called_at_once():
    grader = Coalescer(lambda items: {i: i * 2 for i in items})
    assert [grader.submit(n, n) for n in (1, 2, 3)] == [2, 4, 6]
    assert grader.calls == 3


def test_the_calls_exception_reaches_every_waiter_it_held():
    release, seen = threading.Event(), []

    def call(items):
        seen.append(items)
        release.wait(10)
        if len(seen) > 1:
            raise RuntimeError("harness crashed")
        return {}

    grader = Coalescer(call)
    errors = []

    def submit(item):
        try:
            grader.submit(item, item)
        except RuntimeError as exc:
            errors.append((item, str(exc)))

    threads = [threading.Thread(target=submit, args=(x,)) for x in ("a", "b", "c")]
    threads[0].start()
    assert wait_for(lambda: len(seen) == 1, 5)
    for t in threads[1:]:
        t.start()
    assert wait_for(lambda: len(grader._queue) == 2, 5)
    release.set()
    for t in threads:
        t.join(10)
    assert sorted(errors) == [("b", "harness crashed"), ("c", "harness crashed")]
    with pytest.raises(RuntimeError):
        grader.submit("d", "d")  # the coalescer is still usable after a failed call (and this call fails too)
