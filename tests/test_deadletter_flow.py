"""Acceptance: every discovered URL ends indexed, skipped with a reason, or dead-lettered.
Permanent failures are dead-lettered at once; transient ones are retried by the next runs
(even when the feed itself answers 304) and dead-lettered after `max_attempts`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from flows.ingest import ingest
from newsdesk.deadletter import get_letters
from newsdesk.models import RunSummary, Status
from newsdesk.settings import Settings
from newsdesk.urls import article_id
from tests.newswire import (
    FERRY,
    LIBRARY,
    article_page,
    drop_ingest_indices,
    feed_route,
    feed_source,
    html_route,
    indexed_ids,
    rss,
)
from tests.servers import TestServer, respond, sequence, statuses

pytestmark = pytest.mark.es

GALLERY = b'<html><head><title>Photos</title></head><body><img src="/a.jpg"></body></html>'


@pytest.fixture
def client(es_client: Elasticsearch, es_settings: Settings) -> Iterator[Elasticsearch]:
    yield es_client
    drop_ingest_indices(es_client, es_settings)


def by_url(summary: RunSummary) -> dict[str, tuple[str, str]]:
    return {o.url: (o.status.value, o.reason or "") for o in summary.outcomes}


def test_every_discovered_url_is_indexed_skipped_or_dead_lettered(
    client: Elasticsearch, es_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSDESK_RETRY_MAX_ATTEMPTS", "3")
    with TestServer() as site:
        site.route("/news/ok.html", html_route(article_page(FERRY)))
        site.route("/news/gone.html", statuses(404))
        site.route("/news/down.html", statuses(503))
        # three 503s fail one run's fetch (three tries); the next run gets the page
        site.route(
            "/news/flaky.html",
            sequence(*[statuses(503)] * 3, html_route(article_page(LIBRARY))),
        )
        site.route("/news/report.pdf", respond(200, b"%PDF-1.4", content_type="application/pdf"))
        site.route("/news/gallery.html", html_route(GALLERY))
        paths = ["ok.html", "gone.html", "down.html", "flaky.html", "report.pdf", "gallery.html"]
        links = [site.url(f"/news/{p}") for p in paths]
        links.append(site.url("/news/ok.html?utm_source=twin"))
        site.route("/feed.xml", feed_route(rss([(f"item {i}", u) for i, u in enumerate(links)])))
        sources = [feed_source("site", site.url("/feed.xml"))]

        runs = [ingest(sources=sources, settings=es_settings) for _ in range(3)]
        page_requests = [p for p in site.paths() if p.startswith("/news/")]

    first = by_url(runs[0])
    assert runs[0].entries_found == len(links) == 7
    assert set(first) == set(links)  # one outcome per discovered link
    assert first[links[0]][0] == "indexed"
    assert first[links[6]] == ("skipped", f"same article as {links[0]} (from site)")
    assert first[links[5]][0] == "skipped"  # not an article: skipped with the reason
    assert first[links[5]][1]
    for link in (links[1], links[2], links[3], links[4]):
        assert first[link][0] == "failed"

    letters = get_letters(client, es_settings, [article_id(link) for link in links])
    gone, down, flaky, pdf = (letters.get(article_id(links[i])) for i in (1, 2, 3, 4))
    assert gone is not None
    assert (gone.state, gone.attempts, gone.stage) == ("dead", 1, "fetch")
    assert "404" in (gone.reason or "")
    assert pdf is not None
    assert (pdf.state, pdf.attempts) == ("dead", 1)
    assert "pdf" in (pdf.reason or "")
    assert down is not None
    assert (down.state, down.attempts) == ("dead", 3)
    assert down.transient
    assert "503" in (down.reason or "")
    assert down.first_failed_at is not None
    assert down.last_failed_at is not None
    assert down.first_failed_at < down.last_failed_at
    assert flaky is None  # retried by the second run and indexed: forgotten

    # the feed answered 304 after the first run: the retries came from the dead-letter index
    assert (runs[1].entries_found, runs[2].entries_found) == (2, 1)
    assert by_url(runs[1])[links[3]][0] == "indexed"
    assert by_url(runs[1])[links[2]][0] == "failed"
    assert by_url(runs[2])[links[2]][0] == "failed"
    # permanent failures were fetched once; the transient one once per run (three tries each)
    assert page_requests.count("/news/gone.html") == 1
    assert page_requests.count("/news/down.html") == 9

    ids = indexed_ids(client, es_settings)
    assert ids == {article_id(links[0]), article_id(links[3])}
    # every link: an indexed article, a skip with its reason, or a dead letter
    for link in links:
        key = article_id(link)
        outcome = first[link]
        assert key in ids or outcome[0] == "skipped" or letters[key].state == "dead", link
    assert all(o.status is not Status.FAILED or o.stage != "poll" for r in runs for o in r.outcomes)
