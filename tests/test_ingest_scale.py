"""Large runs: the known-check asks Elasticsearch in chunks (one search may return at most
10,000 hits), an article another link already indexed in an earlier batch is a duplicate and
not indexed twice, and what a run holds (batch size, kept outcomes) does not grow with it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from flows.ingest import ingest
from flows.ops_settings import OpsSettings
from newsdesk.index import ensure_index
from newsdesk.ingest import KNOWN_CHUNK, batch_bounds, index_articles, split_known
from newsdesk.models import OUTCOME_EXAMPLES, Article, FeedEntry, Outcome, RunSummary, Status
from newsdesk.settings import Settings
from newsdesk.urls import article_id
from newsdesk.writer import write_articles
from tests.newswire import (
    FERRY,
    article_page,
    drop_ingest_indices,
    feed_route,
    feed_source,
    html_route,
    indexed_ids,
    rss,
)
from tests.servers import TestServer


@pytest.fixture
def client(es_client: Elasticsearch, es_settings: Settings) -> Iterator[Elasticsearch]:
    ensure_index(es_client, es_settings)
    yield es_client
    drop_ingest_indices(es_client, es_settings)


def canonical_article(n: int) -> Article:
    """Article `n` as indexed from a link other than its canonical URL, so only its
    `source_url` tells the known-check that the link is known."""
    url = f"https://scale.example/news/{n}"
    return Article.model_validate(
        {
            "id": article_id(url),
            "url": url,
            "source_url": f"https://scale.example/amp/{n}",
            "source": "scale",
            "title": f"Harbour story number {n}",
            "body": f"The harbour board met for the {n}th time. The talks went on late.",
        }
    )


def known_check(
    client: Elasticsearch, settings: Settings, known: int, new: int, chunk: int = KNOWN_CHUNK
) -> tuple[list[FeedEntry], list[Outcome]]:
    articles = [canonical_article(n) for n in range(known)]
    assert {o.status for o in write_articles(client, settings, articles)} == {Status.INDEXED}
    client.indices.refresh(index=settings.index_alias)
    links = [a.source_url for a in articles]
    links += [f"https://scale.example/amp/new-{n}" for n in range(new)]
    entries = [FeedEntry(link=link, source="scale") for link in links]
    return split_known(client, settings, entries, chunk=chunk)


@pytest.mark.es
def test_the_known_check_asks_for_more_links_than_its_chunk(
    client: Elasticsearch, es_settings: Settings
) -> None:
    fresh, skipped = known_check(client, es_settings, known=23, new=6, chunk=5)
    assert sorted(e.link for e in fresh) == sorted(
        f"https://scale.example/amp/new-{n}" for n in range(6)
    )
    assert len(skipped) == 23
    assert {o.reason for o in skipped} == {"already indexed"}


@pytest.mark.es
def test_the_known_check_takes_more_links_than_one_search_may_return(
    client: Elasticsearch, es_settings: Settings
) -> None:
    """Elasticsearch refuses a search for more than 10,000 hits (`index.max_result_window`)."""
    assert KNOWN_CHUNK <= 10_000
    fresh, skipped = known_check(client, es_settings, known=3, new=10_001)
    assert (len(fresh), len(skipped)) == (10_001, 3)


def copy_page(canonical: str) -> bytes:
    return article_page(FERRY, design="b", canonical=canonical)


@pytest.mark.es
def test_a_copy_of_an_article_indexed_in_an_earlier_batch_is_a_duplicate(
    client: Elasticsearch, es_settings: Settings
) -> None:
    """A syndicated copy names an article of the same site as its canonical URL, so it has
    that article's id; in a later batch than the article it is not written again, and the
    run's `indexed` equals the documents in the index."""
    with TestServer() as site:
        original, copy = site.url("/news/ferry.html"), site.url("/news/ferry-syndicated.html")
        site.route("/news/ferry.html", html_route(article_page(FERRY, design="a")))
        site.route("/news/ferry-syndicated.html", html_route(copy_page(original)))
        site.route("/feed.xml", feed_route(rss([(FERRY.title, original), (FERRY.title, copy)])))
        one_per_batch = es_settings.model_copy(update={"batch_size": 1})
        summary = ingest(
            sources=[feed_source("site", site.url("/feed.xml"))], settings=one_per_batch
        )

    ids = indexed_ids(client, es_settings)
    assert ids == {article_id(original)}
    assert (summary.indexed, summary.skipped, summary.failed) == (len(ids), 1, 0)
    indexed = [o for o in summary.outcomes if o.status is Status.INDEXED]
    skipped = [o for o in summary.outcomes if o.status is Status.SKIPPED]
    stored = client.get(index=es_settings.index_alias, id=article_id(original))["_source"]
    assert stored["source_url"] == indexed[0].url  # the first link's article is kept
    assert skipped[0].url != indexed[0].url
    assert skipped[0].reason == f"same article as {indexed[0].url} (already indexed)"


@pytest.mark.es
def test_the_same_link_rewriting_its_article_is_indexed(
    client: Elasticsearch, es_settings: Settings
) -> None:
    """A retry of a link whose article was written (the answer was lost) writes it again."""
    article = canonical_article(1)
    assert [o.status for o in index_articles(client, es_settings, [article])] == [Status.INDEXED]
    again = index_articles(client, es_settings, [article])
    assert [o.status for o in again] == [Status.INDEXED]
    other = article.model_copy(update={"source_url": "https://scale.example/m/1"})
    twice = index_articles(client, es_settings, [other, other.model_copy()])
    assert [(o.status, o.reason) for o in twice] == [
        (Status.SKIPPED, f"same article as {article.source_url} (already indexed)")
    ] * 2


def test_a_run_summary_keeps_counts_of_everything_and_a_few_outcomes_of_each_status() -> None:
    summary = RunSummary()
    for n in range(3 * OUTCOME_EXAMPLES):
        for status in Status:
            summary.add(Outcome(url=f"https://x.example/{n}", status=status, stage="fetch"))
    summary.add(Outcome(url="https://x.example/feed", status=Status.FAILED, stage="poll"))
    counts = (summary.indexed, summary.skipped, summary.failed, summary.feeds_failed)
    assert counts == (3 * OUTCOME_EXAMPLES, 3 * OUTCOME_EXAMPLES, 3 * OUTCOME_EXAMPLES, 1)
    assert len(summary.outcomes) == 3 * OUTCOME_EXAMPLES
    assert len(summary.failures) == OUTCOME_EXAMPLES


def test_the_flow_s_batches_do_not_grow_past_a_fixed_size() -> None:
    ops = OpsSettings()

    def largest(total: int) -> int:
        bounds = batch_bounds(
            total, 50, max_batches=ops.max_batches, max_batch_size=ops.max_batch_size
        )
        return max(end - start for start, end in bounds)

    assert largest(10_000) == largest(50_000) == largest(1_000_000) == ops.max_batch_size
