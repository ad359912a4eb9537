"""Article extraction spread over worker processes, so parsing uses every core.

Extraction is CPU-bound pure Python and lxml, so threads share one core through the GIL. An
`ExtractionPool` sends page bytes, URL and charset to worker processes and hands back, in
input order, each page's `ArticleFields` or the `NotAnArticle` that says why not. Pages go one
per task by default: their cost varies tenfold, and in a batch of several one slow page holds
the others (the transfer costs a fraction of a millisecond per page). At most `4 × workers`
batches are in flight, so a long stream of pages never piles up in memory (back-pressure). A
worker that dies (a crash in a C parser, the OOM killer) costs only the page that killed it:
the pool is restarted and the other pages are extracted again.

Workers are started with `spawn` (never `fork`: the caller is usually a threaded Prefect or
HTTP process) on first use, and each warms the extractor up once before its first page.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from multiprocessing import get_context
from types import TracebackType
from typing import NamedTuple

from extractors import extract_article
from newsdesk.errors import NewsdeskError, NotAnArticle
from newsdesk.models import ArticleFields

Extracted = ArticleFields | NotAnArticle

_WARM_UP = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Harbour plan approved after long debate | Warm-up Daily</title>
<meta property="og:title" content="Harbour plan approved after long debate">
<meta name="author" content="Anna Keller"><link rel="canonical" href="https://example.invalid/w">
<meta property="article:published_time" content="2026-03-02T08:00:00+00:00">
<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Harbour plan approved
after long debate", "author": {"@type": "Person", "name": "Anna Keller"}}</script></head>
<body><nav><a href="/">Home</a> <a href="/world">World</a></nav><article>
<h1>Harbour plan approved after long debate</h1><p class="byline">By Anna Keller, Reuters</p>
<p>LISBON (Reuters) - The city council of Lisbon approved the harbour plan on Tuesday after
months of debate, the mayor Carlos Moedas said, and the Port Authority will start in May.</p>
<p>"We cannot keep postponing decisions that affect every family in this city," said Maria
Santos, a spokesperson for the Ministry of Finance, in Brussels on Monday.</p>
<h2>What happens next</h2><p>Engineers from Siemens and the European Investment Bank will
review the costs, which rose by 12 percent, according to documents seen by Reuters.</p>
<p>Opposition members criticised the vote. "The numbers simply do not add up," John Smith
told reporters in London.</p></article><footer>© 2026</footer></body></html>""".encode()
"""A small but complete article: a warm-up on it loads every lazy resource (gazetteers,
language data) that a real page needs, so the first real page is not billed for them."""


class PageJob(NamedTuple):
    """What a worker needs to extract one page: the bytes as fetched, the URL, the charset."""

    content: bytes
    url: str
    charset: str | None = None
    ner: str = "rules"


def extract_one(job: PageJob) -> Extracted:
    """Extract one page; every failure comes back as `NotAnArticle`, never raised."""
    try:
        return extract_article(job.content, job.url, charset=job.charset, ner=job.ner)
    except NotAnArticle as exc:
        return exc if exc.url else NotAnArticle(exc.reason, url=job.url)
    except NewsdeskError as exc:
        return NotAnArticle(exc.reason, url=job.url)
    except Exception as exc:
        return NotAnArticle(f"extraction failed: {type(exc).__name__}: {exc}", url=job.url)


def extract_batch(jobs: list[PageJob]) -> list[Extracted]:
    """The worker's unit of work: one pickled round trip for several pages."""
    return [extract_one(job) for job in jobs]


def _warm_up() -> None:
    extract_one(PageJob(_WARM_UP, "https://example.invalid/warm-up"))


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class ExtractionPool:
    """A pool of extraction worker processes; use as a context manager or call `close()`."""

    def __init__(self, workers: int | None = None, *, batch_size: int = 1) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.workers = workers or default_workers()
        self.batch_size = batch_size
        self.restarts = 0
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> ExtractionPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self, timeout: float = 120.0) -> None:
        """Start the workers now (else on first use) and wait until each has warmed up, so
        that timing starts with every worker ready."""
        executor = self._pool()
        seen: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(seen) < self.workers and time.monotonic() < deadline:
            seen.update(executor.map(_hold_worker, [0.2] * self.workers))

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=self.workers, mp_context=get_context("spawn"), initializer=_warm_up
                )
            return self._executor

    def _restart(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
            self.restarts += 1
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def extract(self, jobs: Iterable[PageJob]) -> Iterator[Extracted]:
        """One result per job, in input order, streamed as batches finish."""
        batches = _batched(iter(jobs), self.batch_size)
        inflight: deque[tuple[list[PageJob], Future[list[Extracted]]]] = deque()
        limit = 4 * self.workers
        for batch in batches:
            inflight.append((batch, self._submit(batch)))
            while len(inflight) >= limit:
                yield from self._collect(inflight)
        while inflight:
            yield from self._collect(inflight)

    def _submit(self, batch: list[PageJob]) -> Future[list[Extracted]]:
        try:
            return self._pool().submit(extract_batch, batch)
        except BrokenProcessPool:
            self._restart()
            return self._pool().submit(extract_batch, batch)

    def _collect(
        self, inflight: deque[tuple[list[PageJob], Future[list[Extracted]]]]
    ) -> list[Extracted]:
        batch, future = inflight.popleft()
        try:
            return future.result()
        except BrokenProcessPool:
            pass
        self._restart()
        results = [self._one_alone(job) for job in batch]
        for i, (other, pending) in enumerate(inflight):
            if not (pending.done() and pending.exception() is None):
                inflight[i] = (other, self._submit(other))
        return results

    def _one_alone(self, job: PageJob) -> Extracted:
        """Retry one page of a batch whose worker died; the page that kills again is failed."""
        try:
            return self._pool().submit(extract_one, job).result()
        except BrokenProcessPool:
            self._restart()
            return NotAnArticle("extraction crashed its worker process", url=job.url)


def _hold_worker(seconds: float) -> int:
    """Holds a worker briefly so that `start` reaches every worker, not one worker N times."""
    time.sleep(seconds)
    return os.getpid()


def _batched(jobs: Iterator[PageJob], size: int) -> Iterator[list[PageJob]]:
    while batch := list(islice(jobs, size)):
        yield batch


_shared: ExtractionPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> ExtractionPool:
    """The process-wide pool that the ingest flow extracts with. Its workers start on first
    use and stay warm for later flow runs in the same process; they are stopped at exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ExtractionPool()
            atexit.register(_shared.close)
        return _shared
