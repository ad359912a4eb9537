"""`newsdesk.parallel.ExtractionPool`: same results as in-process extraction, in order, with
errors as values, and a dead worker costs no page."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bench.site import Site, SiteSpec
from newsdesk import ingest as stages
from newsdesk.errors import NotAnArticle
from newsdesk.fetch import FetchedPage
from newsdesk.models import ArticleFields, FeedEntry
from newsdesk.parallel import ExtractionPool, PageJob, extract_one

SITE = Site(SiteSpec(articles=30, feeds=2, seed=11))


def _jobs() -> list[PageJob]:
    jobs = [PageJob(SITE.page(i), SITE.url(i)) for i in range(6)]
    jobs.insert(2, PageJob(b"", "http://127.0.0.1/empty"))
    jobs.insert(4, PageJob(b"\x00\x01\x02binary" * 50, "http://127.0.0.1/binary"))
    return jobs


@pytest.fixture(scope="module")
def pool() -> Iterator[ExtractionPool]:
    with ExtractionPool(2, batch_size=2) as p:
        p.start()
        yield p


def test_pool_gives_what_one_process_gives_in_order(pool: ExtractionPool) -> None:
    jobs = _jobs()
    expected = [extract_one(job) for job in jobs]
    got = list(pool.extract(jobs))
    assert len(got) == len(jobs)
    for want, have, job in zip(expected, got, jobs, strict=True):
        if isinstance(want, NotAnArticle):
            assert isinstance(have, NotAnArticle)
            assert have.reason == want.reason
            assert have.url == job.url
        else:
            assert isinstance(have, ArticleFields)
            assert have == want
    assert sum(isinstance(r, ArticleFields) for r in got) == 6


def test_a_killed_worker_costs_no_page(pool: ExtractionPool) -> None:
    pids = list(pool._pool()._processes)
    assert pids
    os.kill(pids[0], signal.SIGKILL)
    jobs = [PageJob(SITE.page(i), SITE.url(i)) for i in range(6, 10)]
    got = list(pool.extract(jobs))
    assert [r.title for r in got if isinstance(r, ArticleFields)] == [
        r.title for r in (extract_one(j) for j in jobs) if isinstance(r, ArticleFields)
    ]
    assert len(got) == len(jobs)
    assert pool.restarts >= 1


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="workers"):
        ExtractionPool(0)
    with pytest.raises(ValueError, match="batch_size"):
        ExtractionPool(1, batch_size=0)


def test_extract_pages_with_a_pool_builds_the_same_articles(pool: ExtractionPool) -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    fetched = []
    for i in range(4):
        url = SITE.url(i)
        entry = FeedEntry(link=url, source="desk", feed_url="http://127.0.0.1/feed")
        page = FetchedPage(
            url=url,
            requested_url=url,
            status=200,
            headers={},
            content=SITE.page(i),
            content_type="text/html",
            charset="utf-8",
            fetched_at=now,
            elapsed=0.0,
        )
        fetched.append((entry, page))
    fetched.append(
        (
            FeedEntry(link="http://127.0.0.1/empty", source="desk"),
            fetched[0][1].model_copy(update={"content": b"", "url": "http://127.0.0.1/empty"}),
        )
    )
    plain = stages.extract_pages(fetched)
    pooled = stages.extract_pages(fetched, pool)
    assert pooled == plain
    articles, outcomes = pooled
    assert len(articles) + len(outcomes) == len(fetched)
    assert [o.url for o in outcomes] == ["http://127.0.0.1/empty"]
