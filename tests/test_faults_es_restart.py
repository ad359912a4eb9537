"""Elasticsearch killed with SIGKILL in the middle of an ingest run, then restarted on the same
data directory: the next run completes the set, each article exactly once.

The test has its own node (the session's must not die); a fault proxy in front of it keeps one
URL across the restart and pulls the trigger just before the third bulk write of articles, so
some batches are indexed, the rest are only queued as pending in the dead-letter index.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from flows.ingest import ingest
from newsdesk import es_node
from newsdesk.deadletter import list_letters
from newsdesk.settings import Settings
from newsdesk.urls import article_id, normalize_url
from tests.faultproxy import fault_proxy
from tests.newswire import (
    FERRY,
    LIBRARY,
    WIRE,
    article_page,
    feed_route,
    feed_source,
    html_route,
    rss,
)
from tests.servers import TestServer

pytestmark = [pytest.mark.es, pytest.mark.usefixtures("prefect_api_url")]

ARTICLES = 60
BATCH = 15


@pytest.fixture
def site() -> Iterator[TestServer]:
    server = TestServer()
    items = []
    for n in range(ARTICLES):
        base = (WIRE, FERRY, LIBRARY)[n % 3]
        story = replace(
            base,
            title=f"{base.title} (edition {n})",
            paragraphs=(
                f"Edition {n} of this report, filed at {n} past the hour.",
                *base.paragraphs,
            ),
        )
        path = f"/news/{n}.html"
        server.route(path, html_route(article_page(story, design="ab"[n % 2])))
        items.append((story.title, server.url(path)))
    server.route("/feed.xml", feed_route(rss(items)))
    with server:
        yield server


@pytest.fixture
def base_dir() -> Iterator[Path]:
    """Traversable by the unprivileged user Elasticsearch runs as when the tests run as root."""
    base = Path(tempfile.mkdtemp(prefix="newsdesk-es-kill-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def test_elasticsearch_killed_mid_run_then_restarted_next_run_completes_the_set(
    site: TestServer, base_dir: Path, tmp_path: Path
) -> None:
    alias = f"t-kill-{uuid.uuid4().hex[:8]}"
    source = feed_source(f"kill-{uuid.uuid4().hex[:8]}", site.url("/feed.xml"))
    expected = {article_id(normalize_url(site.url(f"/news/{n}.html"))) for n in range(ARTICLES)}
    first = es_node.ephemeral_node(base_dir)
    node = first.__enter__()
    stopped = False
    try:
        with fault_proxy(node.url) as proxy:
            settings = Settings(
                es_url=proxy.url,
                index_alias=alias,
                data_dir=tmp_path / "data",
                allow_hosts=["127.0.0.1"],
                batch_size=BATCH,
                es_request_timeout=10.0,
            )
            marker = f'"_index":"{alias}"'.encode()
            article_bulks = 0

            def kill_before_third_article_bulk(body: bytes) -> None:
                nonlocal article_bulks
                if marker in body.replace(b" ", b""):
                    article_bulks += 1
                    if article_bulks == 3:
                        os.killpg(node.pid, signal.SIGKILL)

            proxy.before_bulk = kill_before_third_article_bulk
            with pytest.raises(Exception):  # noqa: B017, PT011 - whichever error the dead node gives
                ingest(sources=[source], settings=settings)
            assert article_bulks >= 3  # the third, then the client's resends of it
            first.__exit__(None, None, None)
            stopped = True
            proxy.before_bulk = None

            with es_node.ephemeral_node(base_dir) as restarted:
                proxy.port = restarted.port
                client = Elasticsearch(restarted.url, request_timeout=30)
                client.cluster.health(wait_for_status="yellow", timeout="30s")
                client.indices.refresh(index=alias)
                survived = client.count(index=alias)["count"]
                assert BATCH * 2 <= survived < ARTICLES

                summary = ingest(sources=[source], settings=settings)
                assert summary.failed == 0, summary.failures
                assert summary.indexed == ARTICLES - survived

                client.indices.refresh(index=alias)
                hits = client.search(
                    index=alias, size=1000, source_includes=["url"], query={"match_all": {}}
                )["hits"]["hits"]
                urls = Counter(hit["_source"]["url"] for hit in hits)
                assert [u for u, n in urls.items() if n > 1] == []
                assert {hit["_id"] for hit in hits} == expected
                left = list_letters(client, settings, states=("pending", "retry", "dead"))
                assert left == []
                pages = Counter(p for p in site.paths() if p.startswith("/news/"))
                assert max(pages.values()) <= 2
                client.close()
    finally:
        if not stopped:
            first.__exit__(None, None, None)
