"""Acceptance: a second poll of an unchanged feed sends conditional headers, gets 304 (or an
identical body behind a lying ETag) and fetches zero article pages (the `ingest` flow, real
Elasticsearch, a loopback site)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from flows.ingest import ingest
from newsdesk.settings import Settings
from newsdesk.source_state import load_states
from tests.newswire import (
    FERRY,
    LIBRARY,
    WIRE,
    article_page,
    drop_ingest_indices,
    feed_route,
    feed_source,
    html_route,
    indexed_ids,
    page_paths,
    rss,
)
from tests.servers import TestServer

pytestmark = pytest.mark.es

STORIES = {"/news/wire.html": WIRE, "/news/ferry.html": FERRY, "/news/library.html": LIBRARY}


@pytest.fixture
def client(es_client: Elasticsearch, es_settings: Settings) -> Iterator[Elasticsearch]:
    yield es_client
    drop_ingest_indices(es_client, es_settings)


@pytest.mark.parametrize("etag", ["auto", "lying"])
def test_a_second_poll_of_an_unchanged_feed_fetches_no_page(
    client: Elasticsearch, es_settings: Settings, etag: str
) -> None:
    with TestServer() as site:
        for path, story in STORIES.items():
            site.route(path, html_route(article_page(story)))
        feed = rss([(s.title, site.url(p)) for p, s in STORIES.items()])
        site.route("/feed.xml", feed_route(feed, etag=etag))
        sources = [feed_source("site", site.url("/feed.xml"))]

        first = ingest(sources=sources, settings=es_settings)
        assert first.indexed == 3, first.outcomes
        assert sorted(page_paths(site)) == sorted(STORIES)
        before = len(page_paths(site))

        second = ingest(sources=sources, settings=es_settings)
        feed_requests = [r.headers for r in site.requests if r.path == "/feed.xml"]

    assert len(feed_requests) == 2
    assert "if-none-match" not in feed_requests[0]
    assert feed_requests[1]["if-none-match"]
    assert feed_requests[1]["if-modified-since"]
    state = load_states(client, es_settings, ["site"])["site"]
    assert state.last_status == ("not_modified" if etag == "auto" else "unchanged")
    assert (second.entries_found, second.fetched, second.indexed) == (0, 0, 0)
    assert len(page_paths(site)) == before  # zero article pages on the second poll
    assert len(indexed_ids(client, es_settings)) == 3
    assert state.polls == 2
    assert state.new_entries == 3
    assert state.articles == 3
