"""Bulk-write faults between newsdesk and the session's Elasticsearch, injected by
`tests.faultproxy`: nothing lost, nothing duplicated, every failure dead-lettered with a reason.

Each test runs the index stage the flow runs (`newsdesk.ingest.index_articles`, then
`record_outcomes`) through the proxy, then checks on the node directly: after a refresh the
ids in the index are exactly the expected ones, no URL is there twice, and every article that
is missing has a dead-letter document with a reason.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from newsdesk.deadletter import get_letters
from newsdesk.es_client import connect
from newsdesk.index import ensure_index
from newsdesk.ingest import index_articles, record_outcomes
from newsdesk.models import Article, FeedEntry, Outcome, Status
from newsdesk.settings import Settings
from newsdesk.urls import article_id
from tests.faultproxy import FaultProxy, fault_proxy
from tests.newswire import drop_ingest_indices

pytestmark = pytest.mark.es


def make_article(n: int, **extra: object) -> Article:
    url = f"https://faults.example/news/{n}"
    fields: dict[str, object] = {
        "id": article_id(url),
        "url": url,
        "source_url": url,
        "source": "faults",
        "title": f"Harbour story number {n}",
        "body": f"The harbour board met for the {n}th time. The talks went on late.",
    }
    fields.update(extra)
    return Article.model_validate(fields)


def entries_of(articles: list[Article]) -> list[FeedEntry]:
    return [FeedEntry(link=a.source_url, source=a.source, title=a.title) for a in articles]


@pytest.fixture
def direct(es_client: Elasticsearch, es_settings: Settings) -> Iterator[Elasticsearch]:
    ensure_index(es_client, es_settings)
    yield es_client
    drop_ingest_indices(es_client, es_settings)


@pytest.fixture
def proxy(es_url: str) -> Iterator[FaultProxy]:
    with fault_proxy(es_url) as p:
        yield p


def through(proxy: FaultProxy, settings: Settings, **update: object) -> Settings:
    return settings.model_copy(update={"es_url": proxy.url, **update})


def run_index_stage(
    direct: Elasticsearch, settings: Settings, proxied: Settings, articles: list[Article]
) -> list[Outcome]:
    client = connect(proxied)
    try:
        outcomes = index_articles(client, proxied, articles)
    finally:
        client.close()
    record_outcomes(direct, settings, entries_of(articles), outcomes, articles)
    return outcomes


def assert_exactly_once(
    client: Elasticsearch,
    settings: Settings,
    articles: list[Article],
    missing: frozenset[str] = frozenset(),
) -> None:
    """The index holds each expected article once; each missing one is dead-lettered."""
    client.indices.refresh(index=settings.index_alias)
    resp = client.search(
        index=settings.index_alias,
        size=1000,
        query={"match_all": {}},
        source_includes=["url"],
        track_total_hits=True,
    )
    hits = resp["hits"]["hits"]
    urls = Counter(hit["_source"]["url"] for hit in hits)
    assert [u for u, n in urls.items() if n > 1] == []
    assert resp["hits"]["total"]["value"] == len(hits)
    assert {hit["_id"] for hit in hits} == {a.id for a in articles} - missing
    letters = get_letters(client, settings, missing)
    assert set(letters) == missing
    assert all(letter.reason for letter in letters.values())


def test_bulk_items_answered_429_are_retried_with_logged_backoff(
    direct: Elasticsearch,
    es_settings: Settings,
    proxy: FaultProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    articles = [make_article(n) for n in range(12)]
    proxy.item_429(2)
    with caplog.at_level(logging.WARNING, logger="newsdesk.writer"):
        outcomes = run_index_stage(direct, es_settings, through(proxy, es_settings), articles)
    assert proxy.seen["item_429"] == 2
    assert [o.status for o in outcomes] == [Status.INDEXED] * len(articles)
    backoffs = [r.getMessage() for r in caplog.records if "backing off" in r.getMessage()]
    assert backoffs == [
        "bulk: 12 item(s) rejected with 429; backing off 1 s before retry 1 of 5",
        "bulk: 12 item(s) rejected with 429; backing off 2 s before retry 2 of 5",
    ]
    assert_exactly_once(direct, es_settings, articles)


def test_whole_bulk_answered_429_is_retried_until_it_lands(
    direct: Elasticsearch, es_settings: Settings, proxy: FaultProxy
) -> None:
    """More 429 responses than the transport's own immediate retries: the writer's backoff
    takes over and the batch still lands once."""
    articles = [make_article(n) for n in range(5)]
    proxy.status_429(5)
    outcomes = run_index_stage(direct, es_settings, through(proxy, es_settings), articles)
    assert proxy.seen["status_429"] == 5
    assert {o.status for o in outcomes} == {Status.INDEXED}
    assert_exactly_once(direct, es_settings, articles)


def test_429_that_never_clears_is_left_for_a_later_run_not_dropped(
    direct: Elasticsearch, es_settings: Settings, proxy: FaultProxy
) -> None:
    """Retries are bounded; what is still rejected is a transient failure in the dead-letter
    index (state `retry`), so the next run of its source sends it again."""
    articles = [make_article(n) for n in range(3)]
    proxy.item_429(100)
    proxied = through(proxy, es_settings, bulk_max_retries=1)
    outcomes = run_index_stage(direct, es_settings, proxied, articles)
    assert proxy.seen["item_429"] == 2
    assert all(o.status is Status.FAILED and o.transient for o in outcomes)
    missing = {a.id for a in articles}
    assert_exactly_once(direct, es_settings, articles, frozenset(missing))
    letters = get_letters(direct, es_settings, missing)
    assert {(x.state, x.stage) for x in letters.values()} == {("retry", "index")}
    assert all("es_rejected_execution_exception" in (x.reason or "") for x in letters.values())


def test_reset_after_the_bulk_was_applied_resends_without_duplicates(
    direct: Elasticsearch, es_settings: Settings, proxy: FaultProxy
) -> None:
    """The proxy forwards the bulk, Elasticsearch writes it, and the client's connection is
    reset before the answer: the client sends it again, and the URL-derived ids make that
    resend overwrite instead of duplicate."""
    articles = [make_article(n) for n in range(20)]
    proxy.reset_after_forward(2)
    outcomes = run_index_stage(direct, es_settings, through(proxy, es_settings), articles)
    assert proxy.seen["reset"] == 2
    assert proxy.seen["bulk"] >= 3
    assert {o.status for o in outcomes} == {Status.INDEXED}
    assert_exactly_once(direct, es_settings, articles)
    versions = direct.search(
        index=es_settings.index_alias, size=100, version=True, query={"match_all": {}}
    )["hits"]["hits"]
    assert {hit["_version"] for hit in versions} == {3}


def test_rejected_document_is_dead_lettered_and_the_rest_of_its_bulk_indexed(
    direct: Elasticsearch, es_settings: Settings, proxy: FaultProxy
) -> None:
    """A mapping conflict is permanent: one bulk request, no retry, dead-lettered with the
    field named, the other items of the same bulk indexed."""
    good = [make_article(n) for n in range(6)]
    bad = make_article(99, word_count=10**12)
    articles = [*good[:3], bad, *good[3:]]
    outcomes = run_index_stage(direct, es_settings, through(proxy, es_settings), articles)
    assert proxy.seen["bulk"] == 1
    failed = [o for o in outcomes if o.status is Status.FAILED]
    assert [(o.article_id, o.transient) for o in failed] == [(bad.id, False)]
    assert_exactly_once(direct, es_settings, articles, frozenset({bad.id}))
    letter = get_letters(direct, es_settings, [bad.id])[bad.id]
    assert (letter.state, letter.stage, letter.attempts) == ("dead", "index", 1)
    assert "word_count" in (letter.reason or "")
