"""Acceptance: killing the process in the middle of a poll and polling again loses nothing and
duplicates nothing: the ids in the index equal the expected set.

The `ingest` flow runs in a subprocess and is killed while it waits for a slow article page
(after an earlier batch was indexed and the feed's validators were stored). The next run gets
304 for the feed and still ingests the rest: the killed run's entries were queued in the
dead-letter index before the feed's state moved on.

SIGKILL leaves the run's source lock to lapse with its lease (tests/test_orchestration.py shows
the served run being marked Crashed by its missing heartbeats); SIGTERM is caught by Prefect's
engine, so the run is marked Crashed and its lock released before the process exits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from prefect.client.orchestration import get_client
from prefect.client.schemas.sorting import FlowRunSort

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
ingest(sources=[SourceConfig.model_validate({"name": sys.argv[2], "url": sys.argv[1]})],
       settings=Settings())
"""
TERM_BOUND = 30.0
"""Seconds from SIGTERM until the process is gone and its flow run is Crashed or Cancelled."""


def story(n: int) -> Story:
    base = (WIRE, FERRY, LIBRARY)[n % 3]
    return Story(f"{base.title} ({n})", base.author, (f"Part {n}.", *base.paragraphs))


@pytest.fixture
def client(es_client: Elasticsearch, es_settings: Settings) -> Iterator[Elasticsearch]:
    yield es_client
    drop_ingest_indices(es_client, es_settings)


def _flow_run_state(source: str) -> str | None:
    """The state type of the newest `ingest` run of `source`, from the Prefect server."""
    with get_client(sync_client=True) as prefect:
        runs = prefect.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=50)
    for run in runs:
        sources = run.parameters.get("sources") or []
        if sources and sources[0].get("name") == source and run.state_type is not None:
            return run.state_type.value
    return None


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_killed_poll_loses_and_duplicates_nothing(
    client: Elasticsearch, es_settings: Settings, tmp_path: Path, sig: signal.Signals
) -> None:
    source = f"{sig.name.lower()}-{uuid.uuid4().hex[:6]}"
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
                [sys.executable, "-c", CHILD, site.url("/feed.xml"), source],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            if not requested.wait(90):
                pytest.fail(f"the child never reached the slow page:\n{log.read_text()[-3000:]}")
            # The slow page's batch is fetched while the batch before it is extracted and
            # indexed (the flow's pipeline): kill once that one is in the index.
            first = {article_id(u) for u in links[:2]}
            deadline = time.monotonic() + 60
            while indexed_ids(client, es_settings) != first and time.monotonic() < deadline:
                time.sleep(0.2)
            os.killpg(child.pid, sig)
            signalled = time.monotonic()
            child.wait(TERM_BOUND)
        finally:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait(10)
            release.set()
        if sig is signal.SIGKILL:
            assert child.returncode == -signal.SIGKILL
        else:
            assert child.returncode != 0
            # Prefect's engine turned the signal into a crash of the run, reported to the
            # server before the process ended, and the run's source lock was released.
            assert _flow_run_state(source) in ("CRASHED", "CANCELLED"), log.read_text()[-3000:]
            assert time.monotonic() - signalled < TERM_BOUND
            with get_client(sync_client=True) as prefect:
                limit = prefect.read_global_concurrency_limit_by_name(lock_name(source))
            assert limit.active_slots == 0

        # What the killed run left: the first batch indexed, the feed's state stored, the rest
        # of its entries waiting in the dead-letter index.
        assert indexed_ids(client, es_settings) == {article_id(u) for u in links[:2]}
        assert load_states(client, es_settings, [source])[source].etag
        waiting = claim_backlog(client, es_settings, [source], lease=timedelta(0))
        assert sorted(e.link for e in waiting) == sorted(links[2:])

        if sig is signal.SIGKILL:
            # The killed run's lock would lapse after its lease (60 s); free it now.
            with get_client(sync_client=True) as prefect:
                prefect.delete_global_concurrency_limit_by_name(lock_name(source))

        again = ingest(sources=[feed_source(source, site.url("/feed.xml"))], settings=es_settings)
        feed_requests = [r.headers for r in site.requests if r.path == "/feed.xml"]

    assert "if-none-match" in feed_requests[-1]  # the feed was unchanged: 304, no entries
    assert again.entries_found == 4
    assert again.indexed == 4, again.outcomes
    ids = indexed_ids(client, es_settings)
    assert ids == {article_id(u) for u in links}
    assert client.count(index=es_settings.index_alias)["count"] == len(links)
    assert claim_backlog(client, es_settings, [source], lease=timedelta(0)) == []
    # pages indexed before the kill were not fetched again
    assert page_paths(site).count(paths[0]) == 1
    assert page_paths(site).count(paths[1]) == 1
