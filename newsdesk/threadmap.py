"""`daemon_map`: a function over items on daemon threads, results in order.

`ThreadPoolExecutor` waits for its running calls on the way out of a `with` block and again
at interpreter exit. A fetch stuck on a stalled server (up to its deadline, then its retries)
would hold up a run that was asked to stop (SIGTERM, Ctrl-C) for that long. Here an exception
in the caller abandons the calls still running: no new item is started and the running ones,
on daemon threads, never delay the exit. A `cancel` event does the same for a map running in
another thread (a fetch started ahead of the batch being extracted): once it is set, the
waiting caller gets `MapCancelled` within `CANCEL_POLL` seconds.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

CANCEL_POLL = 0.2


class MapCancelled(Exception):
    """The map's `cancel` event was set: its caller stopped waiting for the rest."""


def daemon_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int,
    cancel: threading.Event | None = None,
) -> Iterator[R]:
    """Yield `fn(item)` for each item in order; an exception from `fn` is raised at its place,
    `MapCancelled` once `cancel` is set."""
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
            while not done[i].wait(None if cancel is None else CANCEL_POLL):
                if cancel is not None and cancel.is_set():
                    raise MapCancelled(f"cancelled with {len(todo) - i} of {len(todo)} to go")
            if i in errors:
                raise errors.pop(i)
            yield results.pop(i)
    finally:
        abandoned.set()
