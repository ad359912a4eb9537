"""Large runs: the known-check asks Elasticsearch in chunks (one search may return at most
10,000 hits)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from newsdesk.index import ensure_index
from newsdesk.ingest import KNOWN_CHUNK, split_known
from newsdesk.models import Article, FeedEntry, Outcome, Status
from newsdesk.settings import Settings
from newsdesk.urls import article_id
from newsdesk.writer import write_articles
from tests.newswire import drop_ingest_indices


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
