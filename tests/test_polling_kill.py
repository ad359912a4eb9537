"""Acceptance: killing the process in the middle of a poll and polling again loses nothing and
duplicates nothing: the ids in the index equal the expected set.

The `ingest` flow runs in a subprocess and is SIGKILLed while it waits for a slow article page
(after an earlier batch was indexed and the feed's validators were stored). The next run gets
304 for the feed and still ingests the rest: the killed run's entries were queued in the
dead-letter index before the feed's state moved on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from prefect.client.orchestration import get_client

from flows.ingest import ingest
from flows.locks import lock_name
from newsdesk.deadletter import claim_backlog
from newsdesk.settings import Settings
from newsdesk.source_state import load_states
from newsdesk.urls import article_id
from tests.newswire import (
    FERRY,
    LIBRARY,
    WIRE,
    Story,
    article_page,
    drop_ingest_indices,
    feed_route,
    feed_source,
    html_route,
    indexed_ids,
    page_paths,
    rss,
)
from tests.servers import Handler, TestServer

pytestmark = pytest.mark.es

ROOT = Path(__file__).resolve().parent.parent
CHILD = """
import sys
from flows.ingest import ingest
from newsdesk.settings import Settings
from newsdesk.sources import SourceConfig
ingest(sources=[SourceConfig.model_validate({"name": "kill", "url": sys.argv[1]})],
       settings=Settings())
"""


def story(n: int) -> Story:
    base = (WIRE, FERRY, LIBRARY)[n % 3]
    return Story(f"{base.title} ({n})", base.author, (f"Part {n}.", *base.paragraphs))


@pytest.fixture
def client(es_client: Elasticsearch, es_settings: Settings) -> Iterator[Elasticsearch]:
    yield es_client
    drop_ingest_indices(es_client, es_settings)


def test_a_killed_poll_loses_and_duplicates_nothing(
    client: Elasticsearch, es_settings: Settings, tmp_path: Path
) -> None:
    paths = [f"/news/{n}.html" for n in range(1, 7)]
    slow_path = paths[3]
    requested, release = threading.Event(), threading.Event()

    def slow(h: Handler) -> None:
        requested.set()
        release.wait(60)
        html_route(article_page(story(4)))(h)

    with TestServer() as site:
        for n, path in enumerate(paths, 1):
            site.route(path, slow if path == slow_path else html_route(article_page(story(n))))
        links = [site.url(p) for p in paths]
        site.route("/feed.xml", feed_route(rss([(f"item {i}", u) for i, u in enumerate(links)])))
        env = {
            **os.environ,
            "NEWSDESK_ES_URL": es_settings.es_url or "",
            "NEWSDESK_INDEX_ALIAS": es_settings.index_alias,
            "NEWSDESK_DATA_DIR": str(es_settings.data_dir),
            "NEWSDESK_ALLOW_HOSTS": '["127.0.0.1"]',
            "NEWSDESK_BATCH_SIZE": "2",
            "NEWSDESK_FETCH_CONCURRENCY": "1",
            "NEWSDESK_ARTICLE_EVENTS": "false",
        }
        log = tmp_path / "child.log"
        with log.open("wb") as out:
            child = subprocess.Popen(
                [sys.executable, "-c", CHILD, site.url("/feed.xml")],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            if not requested.wait(90):
                pytest.fail(f"the child never reached the slow page:\n{log.read_text()[-3000:]}")
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(10)
        finally:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait(10)
            release.set()
        assert child.returncode == -signal.SIGKILL

        # What the killed run left: the first batch indexed, the feed's state stored, the rest
        # of its entries waiting in the dead-letter index.
        assert indexed_ids(client, es_settings) == {article_id(u) for u in links[:2]}
        assert load_states(client, es_settings, ["kill"])["kill"].etag
        waiting = claim_backlog(client, es_settings, ["kill"], lease=timedelta(0))
        assert sorted(e.link for e in waiting) == sorted(links[2:])

        # The killed run's lock on the source would lapse after its lease (60 s); free it now.
        with get_client(sync_client=True) as prefect:
            prefect.delete_global_concurrency_limit_by_name(lock_name("kill"))

        again = ingest(sources=[feed_source("kill", site.url("/feed.xml"))], settings=es_settings)
        feed_requests = [r.headers for r in site.requests if r.path == "/feed.xml"]

    assert "if-none-match" in feed_requests[-1]  # the feed was unchanged: 304, no entries
    assert again.entries_found == 4
    assert again.indexed == 4, again.outcomes
    ids = indexed_ids(client, es_settings)
    assert ids == {article_id(u) for u in links}
    assert client.count(index=es_settings.index_alias)["count"] == len(links)
    assert claim_backlog(client, es_settings, ["kill"], lease=timedelta(0)) == []
    # pages indexed before the kill were not fetched again
    assert page_paths(site).count(paths[0]) == 1
    assert page_paths(site).count(paths[1]) == 1
