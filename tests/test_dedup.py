"""Acceptance: the same article in two feeds with different tracking parameters is one
document; the same wire story on two sites with different page chrome gets two documents with
one cluster id; different stories get different cluster ids. Plus the canonical-URL rules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from elasticsearch import Elasticsearch

from flows.ingest import ingest
from newsdesk.fetch import FetchedPage
from newsdesk.index import ensure_index, template_body
from newsdesk.ingest import build_article, index_articles
from newsdesk.models import Article, FeedEntry
from newsdesk.settings import Settings
from newsdesk.urls import article_id
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
    wire_variant,
)
from tests.servers import TestServer


@pytest.fixture
def client(es_client: Elasticsearch, es_settings: Settings) -> Iterator[Elasticsearch]:
    yield es_client
    drop_ingest_indices(es_client, es_settings)


def articles(client: Elasticsearch, settings: Settings) -> dict[str, Article]:
    ids = indexed_ids(client, settings)
    docs = client.mget(index=settings.index_alias, ids=sorted(ids))["docs"]
    return {d["_source"]["url"]: Article.model_validate(d["_source"]) for d in docs}


@pytest.mark.es
@pytest.mark.parametrize("rounds", ["one round", "a round per feed"])
def test_duplicates_across_feeds_and_sites(
    client: Elasticsearch, es_settings: Settings, rounds: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if rounds == "a round per feed":
        # Each feed is polled and ingested before the next one is polled: the Times link
        # the partner feed repeats is then caught by the index, not within the round.
        monkeypatch.setenv("NEWSDESK_POLL_CHUNK", "1")
        monkeypatch.setenv("NEWSDESK_ROUND_ENTRIES", "1")
    with TestServer() as times, TestServer() as courier:
        times.route("/news/wire.html", html_route(article_page(WIRE, design="a")))
        times.route("/news/ferry.html", html_route(article_page(FERRY, design="a")))
        courier.route("/news/wire.html", html_route(article_page(wire_variant(WIRE), design="b")))
        courier.route("/news/library.html", html_route(article_page(LIBRARY, design="b")))
        # an exact syndicated copy of the ferry story in the other site's design
        courier.route("/news/ferry-copy.html", html_route(article_page(FERRY, design="b")))
        times_feed = rss(
            [
                (WIRE.title, times.url("/news/wire.html?utm_source=rss&utm_medium=feed")),
                (FERRY.title, times.url("/news/ferry.html")),
            ]
        )
        partner_feed = rss(
            [
                (WIRE.title, times.url("/news/wire.html?fbclid=abc#comments")),
                (WIRE.title, courier.url("/news/wire.html")),
                (LIBRARY.title, courier.url("/news/library.html?utm_campaign=x")),
                (FERRY.title, courier.url("/news/ferry-copy.html")),
            ]
        )
        times.route("/feed.xml", feed_route(times_feed))
        courier.route("/partner.xml", feed_route(partner_feed))
        summary = ingest(
            sources=[
                feed_source("times", times.url("/feed.xml")),
                feed_source("partner", courier.url("/partner.xml")),
            ],
            settings=es_settings,
        )
        times_pages = page_paths(times)

    assert summary.failed == 0, summary.failures
    # every discovered link has exactly one outcome
    assert summary.indexed + summary.skipped == summary.entries_found == 6
    # the Times wire page, linked twice with different tracking parameters: fetched once
    assert times_pages.count("/news/wire.html") == 1
    docs = articles(client, es_settings)
    assert sorted(docs) == sorted(
        [
            times.url("/news/wire.html"),
            times.url("/news/ferry.html"),
            courier.url("/news/wire.html"),
            courier.url("/news/library.html"),
            courier.url("/news/ferry-copy.html"),
        ]
    )
    wire_a, wire_b = docs[times.url("/news/wire.html")], docs[courier.url("/news/wire.html")]
    ferry, copy = docs[times.url("/news/ferry.html")], docs[courier.url("/news/ferry-copy.html")]
    library = docs[courier.url("/news/library.html")]

    # same wire story, different chrome and light edits: two documents, one cluster
    assert wire_a.id != wire_b.id
    assert wire_a.content_hash != wire_b.content_hash
    assert wire_a.cluster_id == wire_b.cluster_id
    assert wire_a.cluster_id in (wire_a.id, wire_b.id)  # the id of the first-seen copy
    # exact syndicated copy: same content hash, same cluster
    assert ferry.content_hash == copy.content_hash
    assert ferry.cluster_id == copy.cluster_id
    # different stories: different clusters
    clusters = {wire_a.cluster_id, ferry.cluster_id, library.cluster_id}
    assert len(clusters) == 3
    assert all(a.simhash and len(a.simhash_bands) == 16 for a in docs.values())
    assert all(a.raw_location for a in docs.values())


@pytest.mark.es
def test_a_later_copy_joins_the_cluster_of_an_earlier_run(
    client: Elasticsearch, es_settings: Settings
) -> None:
    with TestServer() as site:
        site.route("/news/wire.html", html_route(article_page(WIRE, design="a")))
        site.route("/news/wire-2.html", html_route(article_page(wire_variant(WIRE), design="b")))
        links = [(WIRE.title, site.url("/news/wire.html"))]
        site.route("/feed.xml", feed_route(lambda: rss(links)))
        sources = [feed_source("site", site.url("/feed.xml"))]
        ingest(sources=sources, settings=es_settings)
        links.insert(0, (WIRE.title, site.url("/news/wire-2.html")))
        later = ingest(sources=sources, settings=es_settings)
    assert later.indexed == 1
    docs = articles(client, es_settings)
    first = docs[site.url("/news/wire.html")]
    second = docs[site.url("/news/wire-2.html")]
    assert first.cluster_id == second.cluster_id == first.id
    assert second.provenance["cluster_id"].startswith("near")


def page(url: str, canonical: str | None) -> FetchedPage:
    return FetchedPage(
        url=url,
        requested_url=url,
        status=200,
        headers={},
        content=article_page(FERRY, canonical=canonical),
        content_type="text/html",
        charset="utf-8",
        fetched_at=datetime(2024, 3, 12, tzinfo=UTC),
        elapsed=0.1,
    )


@pytest.mark.parametrize(
    ("link", "canonical", "identity"),
    [
        # the mobile host names the desktop page: the site serves the same page on both
        ("https://m.example.com/a.html", "https://www.example.com/a.html", "www"),
        ("https://example.com/amp/a.html", "https://example.com/a.html", "canonical"),
        # another site's canonical (syndication) does not take the article over
        ("https://partner.org/a.html", "https://example.com/a.html", "link"),
        # a canonical that names the home page is a CMS mistake, not the article
        ("https://www.example.com/a.html", "https://www.example.com/", "link"),
        ("https://www.example.com/a.html", None, "link"),
    ],
)
def test_the_canonical_url_decides_identity_on_the_same_site(
    link: str, canonical: str | None, identity: str
) -> None:
    entry = FeedEntry(link=link, source="s")
    art = build_article(entry, page(link, canonical))
    assert isinstance(art, Article)
    expected = link if identity == "link" else canonical
    assert art.id == article_id(expected or link)
    assert art.source_url == link
    if identity == "www":
        # the link on the mobile host and the desktop link are one document
        assert art.id == article_id("https://www.example.com/a.html")


@pytest.mark.es
def test_an_index_created_before_band_keys_existed_takes_them(
    es_client: Elasticsearch, es_settings: Settings
) -> None:
    """An articles index made by an earlier release has a strict mapping without
    `simhash_bands`; opening it (as every ingest run does) adds the field rather than letting
    the strict mapping reject every article."""
    body = template_body(es_settings, "core")["template"]
    del body["mappings"]["properties"]["simhash_bands"]
    es_client.indices.create(
        index=es_settings.index_name,
        settings=body["settings"],
        mappings=body["mappings"],
        aliases={es_settings.index_alias: {"is_write_index": True}},
    )
    ensure_index(es_client, es_settings)
    entry = FeedEntry(link="https://example.com/ferry.html", source="s")
    art = build_article(entry, page(entry.link, None))
    assert isinstance(art, Article)
    outcomes = index_articles(es_client, es_settings, [art])
    assert [o.status.value for o in outcomes] == ["indexed"], outcomes
    stored = es_client.get(index=es_settings.index_alias, id=art.id)["_source"]
    assert stored["simhash_bands"] == art.simhash_bands
