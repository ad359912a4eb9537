"""Faults around whole Prefect `ingest` runs on a loopback news site and the session's
Elasticsearch: a cluster that answers bulk writes only after 15 s, and two runs of the same
sources started at once. Afterwards the index holds every article exactly once.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace

import pytest
from elasticsearch import Elasticsearch

from flows.ingest import ingest
from newsdesk.deadletter import list_letters
from newsdesk.errors import ElasticsearchUnavailable
from newsdesk.es_client import ensure_reachable
from newsdesk.models import RunSummary
from newsdesk.settings import Settings
from newsdesk.sources import SourceConfig
from newsdesk.urls import article_id, normalize_url
from tests.faultproxy import FaultProxy, fault_proxy
from tests.newswire import (
    FERRY,
    LIBRARY,
    WIRE,
    article_page,
    drop_ingest_indices,
    feed_route,
    feed_source,
    html_route,
    page_paths,
    rss,
)
from tests.servers import TestServer

pytestmark = [pytest.mark.es, pytest.mark.usefixtures("prefect_api_url")]

STORIES = 9


@pytest.fixture
def site() -> Iterator[TestServer]:
    """Nine distinct articles (three stories, each in three numbered editions) in one feed."""
    server = TestServer()
    items = []
    for n in range(STORIES):
        base = (WIRE, FERRY, LIBRARY)[n % 3]
        story = replace(
            base,
            title=f"{base.title} (edition {n})",
            paragraphs=(f"Edition {n} of this report.", *base.paragraphs),
        )
        path = f"/news/{n}.html"
        server.route(path, html_route(article_page(story, design="ab"[n % 2])))
        items.append((story.title, server.url(path)))
    server.route("/feed.xml", feed_route(rss(items)))
    with server:
        yield server


@pytest.fixture
def client(es_client: Elasticsearch, es_settings: Settings) -> Iterator[Elasticsearch]:
    yield es_client
    drop_ingest_indices(es_client, es_settings)


@pytest.fixture
def proxy(es_url: str) -> Iterator[FaultProxy]:
    with fault_proxy(es_url) as p:
        yield p


def sources(site: TestServer) -> list[SourceConfig]:
    return [feed_source(f"faults-{uuid.uuid4().hex[:8]}", site.url("/feed.xml"))]


def expected_ids(site: TestServer) -> set[str]:
    return {article_id(normalize_url(site.url(f"/news/{n}.html"))) for n in range(STORIES)}


def assert_exactly_once(client: Elasticsearch, settings: Settings, site: TestServer) -> None:
    client.indices.refresh(index=settings.index_alias)
    hits = client.search(
        index=settings.index_alias, size=1000, source_includes=["url"], query={"match_all": {}}
    )["hits"]["hits"]
    urls = Counter(hit["_source"]["url"] for hit in hits)
    assert [u for u, n in urls.items() if n > 1] == []
    assert {hit["_id"] for hit in hits} == expected_ids(site)
    assert list_letters(client, settings, states=("pending", "retry", "dead")) == []


def test_bulk_slower_than_the_request_timeout_is_retried_and_the_run_completes(
    site: TestServer, client: Elasticsearch, es_settings: Settings, proxy: FaultProxy
) -> None:
    """Elasticsearch takes 15 s to answer the first two bulk requests; with a 3 s request
    timeout the index task times out, Prefect retries it, and the run still ends with every
    article indexed once, well before the slow answers would have arrived."""
    settings = es_settings.model_copy(update={"es_url": proxy.url, "es_request_timeout": 3.0})
    proxy.only_bodies_with = f'"{es_settings.index_alias}"'.encode()
    proxy.slow_bulk(2, 15.0)
    started = time.monotonic()
    summary = ingest(sources=sources(site), settings=settings)
    elapsed = time.monotonic() - started
    assert proxy.seen["slow"] == 2
    assert proxy.seen["bulk"] >= 3
    assert (summary.indexed, summary.failed) == (STORIES, 0), summary.failures
    assert elapsed < 45
    assert_exactly_once(client, es_settings, site)


def test_cluster_slower_than_the_timeout_fails_with_one_clear_line(
    es_settings: Settings, proxy: FaultProxy
) -> None:
    settings = es_settings.model_copy(update={"es_url": proxy.url, "es_request_timeout": 2.0})
    proxy.delay(15.0)
    started = time.monotonic()
    with pytest.raises(ElasticsearchUnavailable) as caught:
        ensure_reachable(settings)
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert "did not answer within 2 s" in message
    assert "NEWSDESK_ES_REQUEST_TIMEOUT" in message
    assert "\n" not in message


def test_two_runs_of_the_same_sources_at_once_index_each_article_once(
    site: TestServer, client: Elasticsearch, es_settings: Settings
) -> None:
    """The per-source lock makes the second run wait; it then finds everything indexed, so no
    page is fetched twice and no document is written twice."""
    shared = sources(site)
    results: list[RunSummary | BaseException] = []
    gate = threading.Barrier(2)

    def run() -> None:
        gate.wait()
        try:
            results.append(ingest(sources=shared, settings=es_settings))
        except BaseException as exc:  # reported by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    summaries = [r for r in results if isinstance(r, RunSummary)]
    assert len(summaries) == 2, results
    assert sorted(s.indexed for s in summaries) == [0, STORIES]
    assert all(s.failed == 0 for s in summaries)
    assert Counter(page_paths(site)) == {f"/news/{n}.html": 1 for n in range(STORIES)}
    assert_exactly_once(client, es_settings, site)
