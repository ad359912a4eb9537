"""Hand URLs that users submitted (`newsdesk submit`, `POST /ingest`) on to the event-triggered
ingestion.

The submit paths append accepted URLs to `<data_dir>/submitted.jsonl` (`newsdesk.submissions`);
`newsdesk serve` watches that queue and turns what it finds into `newsdesk.url.submitted`
events within about a second. Code that can reach the Prefect API may instead call
`flows.events.emit_urls_submitted` directly (the API on another machine than `serve` must).
"""

from __future__ import annotations

import fcntl
import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from flows.events import emit_urls_submitted
from newsdesk.settings import Settings
from newsdesk.submissions import queue_path

log = logging.getLogger(__name__)


def claim_queue(path: Path, handle: Callable[[list[str]], object]) -> int:
    """Pass the queued URLs to `handle`, then empty the queue — under the same lock the
    writers take, so a line is neither lost to a concurrent append nor handed on twice.
    Returns the number of URLs handed on."""
    try:
        fh = open(path, "r+", encoding="utf-8")  # noqa: SIM115
    except FileNotFoundError:
        return 0
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            urls = []
            for line in fh:
                try:
                    urls.append(json.loads(line)["url"])
                except (ValueError, KeyError, TypeError):
                    log.warning("skipping a malformed line in %s: %r", path, line[:200])
            if urls:
                handle(list(dict.fromkeys(urls)))
            fh.seek(0)
            fh.truncate()
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    return len(urls)


def watch_submissions(
    settings: Settings, *, interval: float = 1.0, stop: threading.Event | None = None
) -> threading.Thread:
    """A daemon thread that hands the submission queue on as events every `interval` s."""
    stop = stop or threading.Event()
    path = queue_path(settings)

    def loop() -> None:
        while not stop.wait(interval):
            try:
                if path.exists() and path.stat().st_size:
                    count = claim_queue(path, lambda urls: emit_urls_submitted(settings, urls))
                    log.info("handed %d submitted URL(s) on for ingestion", count)
            except Exception as exc:  # keep watching; the queue is kept for the next try
                log.warning("cannot hand the submission queue %s on: %s", path, exc)

    thread = threading.Thread(target=loop, name="newsdesk-submissions", daemon=True)
    thread.start()
    return thread
