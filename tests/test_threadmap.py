"""`daemon_map` keeps order, raises at the failing item, and never waits for abandoned calls."""

from __future__ import annotations

import threading
import time

import pytest

from newsdesk.threadmap import MapCancelled, daemon_map


def test_results_come_in_input_order_whatever_finishes_first() -> None:
    def slow_first(n: int) -> int:
        time.sleep(0.05 if n == 0 else 0)
        return n * n

    assert list(daemon_map(slow_first, range(6), workers=3)) == [0, 1, 4, 9, 16, 25]
    assert list(daemon_map(slow_first, [], workers=3)) == []


def test_an_error_is_raised_at_its_item() -> None:
    def boom(n: int) -> int:
        if n == 2:
            raise ValueError("item 2")
        return n

    results = daemon_map(boom, range(5), workers=1)
    assert [next(results), next(results)] == [0, 1]
    with pytest.raises(ValueError, match="item 2"):
        next(results)


def test_a_caller_that_stops_does_not_wait_for_a_stuck_call_nor_start_new_ones() -> None:
    stuck, started = threading.Event(), []

    def work(n: int) -> int:
        started.append(n)
        if n:
            stuck.wait(30)
        return n

    results = daemon_map(work, range(10), workers=2)
    begun = time.monotonic()
    assert next(results) == 0
    results.close()  # what an exception (a signal) in the caller does to the generator
    assert time.monotonic() - begun < 5
    stuck.set()
    time.sleep(0.3)
    assert sorted(started) == [0, 1, 2]  # the two in flight finished; nothing new began


def test_a_cancel_event_set_from_another_thread_stops_the_wait() -> None:
    stuck, cancel = threading.Event(), threading.Event()

    def work(n: int) -> int:
        if n:
            stuck.wait(30)
        return n

    results = daemon_map(work, range(4), workers=2, cancel=cancel)
    assert next(results) == 0
    threading.Timer(0.1, cancel.set).start()
    begun = time.monotonic()
    with pytest.raises(MapCancelled, match="3 of 4"):
        next(results)
    assert time.monotonic() - begun < 5
    stuck.set()
