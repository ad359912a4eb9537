"""`daemon_map`: a function over items on daemon threads, results in order.

`ThreadPoolExecutor` waits for its running calls on the way out of a `with` block and again
at interpreter exit. A fetch stuck on a stalled server (up to its deadline, then its retries)
would hold up a run that was asked to stop (SIGTERM, Ctrl-C) for that long. Here an exception
in the caller abandons the calls still running: no new item is started and the running ones,
on daemon threads, never delay the exit.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def daemon_map(fn: Callable[[T], R], items: Iterable[T], *, workers: int) -> Iterator[R]:
    """Yield `fn(item)` for each item in order; an exception from `fn` is raised at its place."""
    todo = list(items)
    if not todo:
        return
    results: dict[int, R] = {}
    errors: dict[int, BaseException] = {}
    done = [threading.Event() for _ in todo]
    pending: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(len(todo)):
        pending.put(i)
    abandoned = threading.Event()

    def work() -> None:
        while not abandoned.is_set():
            try:
                i = pending.get_nowait()
            except queue.Empty:
                return
            try:
                results[i] = fn(todo[i])
            except BaseException as exc:
                errors[i] = exc
            finally:
                done[i].set()

    for n in range(min(max(1, workers), len(todo))):
        threading.Thread(target=work, name=f"daemon-map-{n}", daemon=True).start()
    try:
        for i in range(len(todo)):
            done[i].wait()
            if i in errors:
                raise errors.pop(i)
            yield results.pop(i)
    finally:
        abandoned.set()
