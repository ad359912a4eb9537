"""Scheduled and event-driven ingestion on the session's real Prefect server and Elasticsearch.

One `newsdesk serve` process (the deployments of this module's feeds file, under a suffix and an
index alias of its own) runs for the module; the in-process tests run flows directly. What each
test expects is stated in it: the local site's pages, feeds and failures are built here.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import signal
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterId,
)
from prefect.client.schemas.sorting import FlowRunSort
from prefect.exceptions import ObjectNotFound

from flows.automations import automation_names
from flows.events import (
    ARTICLE_INDEXED,
    FEED_POLLED,
    INDEX_LABEL,
    SOURCE_FAILING,
    emit_feed_polled,
    emit_urls_submitted,
    recent_events,
)
from flows.ingest import ingest, ingest_entries, skip_known
from flows.locks import source_locks
from newsdesk.demo_site import build_site
from newsdesk.es_client import connect
from newsdesk.ingest import batch_bounds
from newsdesk.models import FeedEntry
from newsdesk.settings import Settings
from newsdesk.sources import SourceConfig
from newsdesk.submissions import Accepted, queue_path, record_accepted
from newsdesk.supervisor import kill_group, spawn
from newsdesk.urls import article_id, normalize_url

pytestmark = [pytest.mark.es, pytest.mark.usefixtures("prefect_api_url")]

DEMO_ARTICLES = 6  # /feed.xml of the demo site without the seed article
INTERVAL_MINUTES = 0.2
# Each source's adaptive interval stays within these bounds, so every scheduled run finds it due.
FAST = "poll_interval_minutes: 0.1, min_interval_minutes: 0.1, max_interval_minutes: 0.1"
ALERT_AFTER = 2


# --- a local news site whose pages can change while it runs --------------------------------


def article_html(title: str, token: str) -> bytes:
    """An article page the extractor accepts: headline, byline, six paragraphs, JSON-LD."""
    words = [
        "council",
        "harbour",
        "ministry",
        "budget",
        "coast",
        "festival",
        "survey",
        "schools",
        "bridge",
        "museum",
    ]
    paras = "".join(
        f"<p>{' '.join(words[(p + i) % len(words)] for i in range(50)).capitalize()} "
        f"({token} {p}).</p>"
        for p in range(6)
    )
    ld = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": title,
            "datePublished": "2024-06-01T08:00:00+00:00",
        }
    )
    return (
        f"<!doctype html><html lang='en'><head><title>{title}</title>"
        f"<script type='application/ld+json'>{ld}</script></head><body><article><h1>{title}</h1>"
        f"<p class='byline'>By Test Reporter</p>{paras}</article></body></html>"
    ).encode()


class Site:
    """The demo site plus pages added at run time; `/broken/feed.xml` answers 500 and paths in
    `slow` stall before answering. Every request path is recorded."""

    def __init__(self) -> None:
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                site.requests.append(self.path)
                delay = site.slow.get(self.path)
                if delay:
                    time.sleep(delay)
                if self.path == "/broken/feed.xml":
                    self._send(500, b"oops", "text/plain")
                    return
                page = site.pages.get(self.path.split("?", 1)[0])
                if page is None:
                    self._send(404, b"not found", "text/plain")
                else:
                    self._send(200, *page)

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.pages: dict[str, tuple[bytes, str]] = build_site(self.base, None)
        self.requests: list[str] = []
        self.slow: dict[str, float] = {}
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add_article(self, title: str) -> str:
        token = uuid.uuid4().hex[:10]
        path = f"/news/{token}.html"
        self.pages[path] = (article_html(title, token), "text/html; charset=utf-8")
        return self.base + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


# --- the served deployments -----------------------------------------------------------------


@pytest.fixture(scope="module")
def settings(es_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    s = Settings(
        es_url=es_url,
        index_alias=f"t-orch-{uuid.uuid4().hex[:8]}",
        data_dir=tmp_path_factory.mktemp("orch-data"),
        allow_hosts=["127.0.0.1"],
        request_deadline=30.0,
    )
    yield s
    client = connect(s)
    client.indices.delete(index=s.index_name, ignore_unavailable=True)
    client.options(ignore_status=404).indices.delete_index_template(
        name=f"{s.index_alias}-template"
    )
    client.close()


class Served:
    def __init__(self, settings: Settings, site: Site, feeds: Path, suffix: str, log: Path):
        self.settings = settings
        self.site = site
        self.feeds = feeds
        self.suffix = suffix
        self.log = log

    def deployment(self, name: str) -> Any:
        with get_client(sync_client=True) as client:
            return client.read_deployment_by_name(name + self.suffix)

    def runs(self, deployment: str) -> list[Any]:
        dep = self.deployment(deployment)
        with get_client(sync_client=True) as client:
            return client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id])),
                sort=FlowRunSort.EXPECTED_START_TIME_DESC,
                limit=200,
            )


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="module")
def served(
    prefect_api_url: str,
    settings: Settings,
    site: Site,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("served")
    feeds = tmp / "feeds.yaml"
    feeds.write_text(
        "allow_hosts: ['127.0.0.1']\n"
        f"groups:\n  demo: {{interval_minutes: {INTERVAL_MINUTES}}}\n"
        "sources:\n"
        f"  - {{name: demo-news, url: '{site.base}/feed.xml', group: demo, {FAST}}}\n"
        f"  - {{name: demo-partner, url: '{site.base}/partner/feed.xml', group: demo, {FAST}}}\n"
        f"  - {{name: broken, url: '{site.base}/broken/feed.xml', group: demo, {FAST}}}\n",
        "utf-8",
    )
    env = dict(os.environ)
    env.update(
        PREFECT_API_URL=prefect_api_url,
        PREFECT_LOGGING_LEVEL="INFO",
        NEWSDESK_ES_URL=settings.es_url or "",
        NEWSDESK_INDEX_ALIAS=settings.index_alias,
        NEWSDESK_DATA_DIR=str(settings.data_dir),
        NEWSDESK_REQUEST_DEADLINE="30",
        NEWSDESK_ALERT_AFTER_FAILURES=str(ALERT_AFTER),
    )
    suffix = f"-{settings.index_alias}"
    log = tmp / "serve.log"
    proc = spawn(
        ["serve", "--feeds", str(feeds), "--suffix", suffix, "--poll-seconds", "1"],
        env=env,
        log_path=log,
    )
    state = Served(settings, site, feeds, suffix, log)
    try:
        wait_until(
            lambda: (
                (
                    deployment_exists(f"ingest-entries/on-event{suffix}")
                    and deployment_exists(f"poll-sources/demo{suffix}")
                )
                or proc.poll() is not None
            ),
            240,
            "newsdesk serve to register its deployments",
        )
        assert proc.poll() is None, log.read_text("utf-8", "replace")
        yield state
    finally:
        kill_group(proc.pid)
        proc.wait(timeout=30)
        with get_client(sync_client=True) as client:
            for name in ("poll-sources/demo", "ingest-entries/on-event"):
                with contextlib.suppress(Exception):
                    client.delete_deployment(client.read_deployment_by_name(name + suffix).id)
            for auto in client.read_automations_by_name(automation_names(settings)["failing"]):
                client.delete_automation(auto.id)


def deployment_exists(name: str) -> bool:
    with get_client(sync_client=True) as client:
        try:
            client.read_deployment_by_name(name)
        except ObjectNotFound:
            return False
    return True


def searchable(settings: Settings, doc_id: str) -> bool:
    client = connect(settings)
    try:
        resp = client.search(
            index=settings.index_alias, query={"ids": {"values": [doc_id]}}, size=0
        )
        return bool(resp["hits"]["total"]["value"])
    except Exception:
        return False
    finally:
        client.close()


def count_source(settings: Settings, source: str) -> int:
    client = connect(settings)
    try:
        return int(
            client.count(index=settings.index_alias, query={"term": {"source": source}})["count"]
        )
    except Exception:
        return 0
    finally:
        client.close()


# --- served: schedules, events, triggers ----------------------------------------------------


def test_scheduled_poll_runs_by_itself_and_hands_new_entries_to_the_triggered_ingestion(
    served: Served,
) -> None:
    dep = served.deployment("poll-sources/demo")
    assert dep.schedules
    assert not dep.paused
    assert dep.schedules[0].schedule.interval.total_seconds() == INTERVAL_MINUTES * 60

    def polled() -> list[Any]:
        return [r for r in served.runs("poll-sources/demo") if r.state_type.value == "COMPLETED"]

    runs = wait_until(polled, 240, "a scheduled poll-sources run to complete")
    assert all(r.auto_scheduled for r in runs), "nobody but the scheduler starts these runs"
    assert runs[0].parameters["group"] == "demo"

    wait_until(
        lambda: count_source(served.settings, "demo-news") == DEMO_ARTICLES,
        240,
        "the demo feed's articles to be searchable",
    )
    triggered = wait_until(
        lambda: [
            r for r in served.runs("ingest-entries/on-event") if r.state_type.value == "COMPLETED"
        ],
        120,
        "the event-triggered ingestion run to complete",
    )
    links = {e["link"] for r in triggered for e in r.parameters["entries"]}
    feed_links = {served.site.base + p for p in served.site.pages if p.endswith(".html")}
    assert links <= feed_links


def test_a_failing_source_is_flagged_and_the_automation_fires(served: Served) -> None:
    labels = {INDEX_LABEL: served.settings.index_alias}
    failing = wait_until(
        lambda: recent_events(SOURCE_FAILING, resource_id="newsdesk.source.broken", labels=labels),
        240,
        f"newsdesk.source.failing after {ALERT_AFTER} failed polls",
        every=2,
    )
    assert failing[0].payload["consecutive_failures"] >= ALERT_AFTER
    assert "500" in failing[0].payload["error"]
    polls = recent_events(FEED_POLLED, resource_id="newsdesk.source.broken", labels=labels)
    assert len(polls) >= ALERT_AFTER
    assert all(p.payload["error"] for p in polls)
    healthy = recent_events(SOURCE_FAILING, resource_id="newsdesk.source.demo-news", labels=labels)
    assert healthy == []

    with get_client(sync_client=True) as client:
        (automation,) = client.read_automations_by_name(
            automation_names(served.settings)["failing"]
        )
    wait_until(
        lambda: (
            automation_fired(automation.name, failing[-1].id)
            or automation_fired(automation.name, failing[0].id)
        ),
        120,
        "the source-failing automation to fire",
        every=2,
    )
    # Quiet the schedule for the rest of the module.
    with get_client(sync_client=True) as client:
        client.pause_deployment(served.deployment("poll-sources/demo").id)


def test_a_feed_update_event_ingests_exactly_its_entries(served: Served) -> None:
    """Also measures event → searchable; `bench/event_latency.py` is the benchmark proper."""
    latencies = []
    for n in range(3):
        link = served.site.add_article(f"Ferry timetable changes, part {n}")
        path = link.removeprefix(served.site.base)
        before = len(served.site.requests)
        t0 = time.monotonic()
        emit_feed_polled(
            served.settings,
            "demo-news",
            feed_url=f"{served.site.base}/feed.xml",
            new_entries=[FeedEntry(link=link, source="demo-news", title=f"part {n}")],
            entries_seen=1,
        )
        wait_until(
            lambda link=link: searchable(served.settings, article_id(link)),
            120,
            f"{link} to be searchable",
            every=0.1,
        )
        latencies.append(time.monotonic() - t0)
        pages = [p for p in served.site.requests[before:] if p.endswith(".html")]
        assert pages == [path], "only the entry the event named was fetched"

    print(f"event → searchable: median {statistics.median(latencies):.2f} s, {latencies}")
    runs = [
        r
        for r in served.runs("ingest-entries/on-event")
        if any(e["link"] == link for e in r.parameters.get("entries", []))
    ]
    assert len(runs) == 1
    assert [e["link"] for e in runs[0].parameters["entries"]] == [link]


def test_article_indexed_events_are_readable_through_the_api(served: Served) -> None:
    link = served.site.add_article("Library opens on Sundays")
    doc_id = article_id(link)
    emit_feed_polled(
        served.settings,
        "demo-news",
        feed_url=None,
        new_entries=[FeedEntry(link=link, source="demo-news")],
    )
    events = wait_until(
        lambda: recent_events(ARTICLE_INDEXED, resource_id=f"newsdesk.article.{doc_id}"),
        120,
        "newsdesk.article.indexed for the new article",
        every=1,
    )
    event = events[0]
    assert event.payload["url"] == link
    assert event.resource["prefect.resource.name"] == "Library opens on Sundays"
    assert event.resource[INDEX_LABEL] == served.settings.index_alias
    assert any(r.id == "newsdesk.source.demo-news" for r in event.related)
    assert "body" not in json.dumps(event.payload)


def test_the_triggered_run_publishes_per_source_artifacts(served: Served) -> None:
    link = served.site.add_article("Bridge repairs start in May")
    emit_feed_polled(
        served.settings,
        "demo-partner",
        feed_url=None,
        new_entries=[
            FeedEntry(link=link, source="demo-partner"),
            FeedEntry(link=link + "?utm_source=x", source="demo-partner"),
            FeedEntry(link=served.site.base + "/gone.html", source="demo-partner"),
        ],
    )

    def run() -> Any:
        runs = [
            r
            for r in served.runs("ingest-entries/on-event")
            if r.state_type.value == "COMPLETED"
            and any(e["link"] == link for e in r.parameters.get("entries", []))
        ]
        return runs[0] if runs else None

    flow_run = wait_until(run, 120, "the triggered run to complete")
    table, markdown = artifacts_of(flow_run.id)
    assert table == [
        {
            "source": "demo-partner",
            "feed": "event",
            "polled": 3,
            "new": 2,
            "fetched": 1,
            "indexed": 1,
            "duplicates": 1,
            "skipped": 0,
            "failed": 1,
            "reasons": table[0]["reasons"],
        }
    ]
    assert "404" in table[0]["reasons"]
    assert "indexed: **1**" in markdown
    assert "failed: **1**" in markdown
    assert link in markdown


def automation_fired(name: str, triggering_event_id: Any) -> bool:
    """True once the automation `name` executed its action for that triggering event."""
    with get_client(sync_client=True) as client:
        automations = client.read_automations_by_name(name)
    for automation in automations:
        for event in recent_events(
            "prefect.automation.action.executed",
            resource_id=f"prefect.automation.{automation.id}",
        ):
            if any(r.id == f"prefect.event.{triggering_event_id}" for r in event.related):
                return True
    return False


def artifacts_of(flow_run_id: Any) -> tuple[list[dict[str, Any]], str]:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    by_type = {a.type: a for a in found}
    table = by_type["table"].data
    return (json.loads(table) if isinstance(table, str) else table), str(by_type["markdown"].data)


def test_submitted_urls_are_ingested_by_the_event_triggered_deployment(served: Served) -> None:
    link = served.site.add_article("Reader submits a story about the night market")
    assert emit_urls_submitted(served.settings, [link]) == 1
    wait_until(lambda: searchable(served.settings, article_id(link)), 120, "the submitted URL")
    client = connect(served.settings)
    try:
        doc = client.get(index=served.settings.index_alias, id=article_id(link))["_source"]
    finally:
        client.close()
    assert doc["source"] == "submitted"


def test_urls_queued_by_submit_are_handed_on_by_serve(served: Served) -> None:
    """`newsdesk submit` and POST /ingest queue accepted URLs in <data_dir>/submitted.jsonl;
    the serve process turns the queue into newsdesk.url.submitted events."""
    link = served.site.add_article("Reader tip: the ferry pier reopens")
    record_accepted(
        served.settings,
        [Accepted(url=link, normalized_url=normalize_url(link), article_id=article_id(link))],
    )
    t0 = time.monotonic()
    wait_until(lambda: searchable(served.settings, article_id(link)), 120, "the queued URL")
    print(f"queued submission → searchable: {time.monotonic() - t0:.2f} s")
    assert queue_path(served.settings).read_text("utf-8") == "", "the queue was emptied"


def flow_run_pids(parent: int) -> list[int]:
    """Flow-run processes the runner started (`python -m prefect.engine` children of it)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if int(stat[1]) == parent and b"prefect.engine" in cmdline:
            pids.append(int(entry.name))
    return pids


def serve_pid(served: Served) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if b"newsdesk.cli serve" in cmdline and served.suffix.encode() in cmdline:
                return int(entry.name)
    raise AssertionError("serve process not found")


def test_a_killed_run_crashes_visibly_frees_its_source_and_the_next_run_completes(
    served: Served,
) -> None:
    slow = served.site.add_article("Harbour crane stalls")
    fast = served.site.add_article("Harbour crane repaired")
    served.site.slow[slow.removeprefix(served.site.base)] = 25
    emit_feed_polled(
        served.settings,
        "slowpoke",
        feed_url=None,
        new_entries=[FeedEntry(link=slow, source="slowpoke")],
    )
    parent = serve_pid(served)
    wait_until(
        lambda: slow.removeprefix(served.site.base) in served.site.requests,
        120,
        "the run to be fetching the stalled page (holding the source's lock)",
    )
    (victim,) = flow_run_pids(parent)
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()

    def crashed() -> Any:
        runs = [
            r
            for r in served.runs("ingest-entries/on-event")
            if any(e["link"] == slow for e in r.parameters.get("entries", []))
        ]
        return runs and runs[0].state_type.value == "CRASHED" and runs[0]

    crashed_run = wait_until(crashed, 60, "the killed run to be marked Crashed")
    (crash_event,) = wait_until(
        lambda: recent_events(
            "prefect.flow-run.Crashed", resource_id=f"prefect.flow-run.{crashed_run.id}"
        ),
        60,
        "the Crashed event",
        every=1,
    )
    wait_until(
        lambda: automation_fired(automation_names(served.settings)["crashed"], crash_event.id),
        120,
        "the run-crashed automation to fire for this run",
        every=2,
    )

    # The next run for the same source (a re-poll would hand the lost entry on again) waits at
    # most for the dead run's lease to lapse, then ingests both; nothing half-done is in its way.
    served.site.slow.clear()
    emit_feed_polled(
        served.settings,
        "slowpoke",
        feed_url=None,
        new_entries=[
            FeedEntry(link=slow, source="slowpoke"),
            FeedEntry(link=fast, source="slowpoke"),
        ],
    )
    wait_until(
        lambda: (
            searchable(served.settings, article_id(slow))
            and searchable(served.settings, article_id(fast))
        ),
        180,
        "the next run to complete the set",
        every=1,
    )
    assert time.monotonic() - killed_at < 60 + 15 + 60, "the lease bounds the wait"
    assert count_source(served.settings, "slowpoke") == 2


# --- in-process flows: locks, batching, retries, inline ingest artifacts ---------------------


@pytest.fixture
def own_site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


def test_two_runs_never_hold_the_same_source_at_once(
    own_site: Site, es_settings: Settings, es_client: Elasticsearch
) -> None:
    source = SourceConfig.model_validate(
        {"name": f"exclusive-{uuid.uuid4().hex[:6]}", "url": f"{own_site.base}/partner/feed.xml"}
    )
    done = threading.Event()
    errors: list[BaseException] = []

    def second_run() -> None:
        try:
            ingest(sources=[source], settings=es_settings)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    with source_locks([source.name]):
        worker = threading.Thread(target=second_run)
        worker.start()
        time.sleep(4)
        assert "/partner/feed.xml" not in own_site.requests, "the second run waited"
        assert not done.is_set()
    worker.join(timeout=120)
    assert not errors, errors
    assert "/partner/feed.xml" in own_site.requests


def test_batches_keep_task_runs_in_the_tens(
    own_site: Site,
    es_settings: Settings,
    es_client: Elasticsearch,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    per_batch = ("fetch-pages", "extract-articles", "index-articles")
    per_run = ("due-sources", "poll-feeds", "skip-known", "record-polls")
    bounds = batch_bounds(10_000, 50, max_batches=20, max_batch_size=1000)
    assert len(bounds) == 20
    assert bounds[-1] == (9_500, 10_000)
    tasks_for_10k = len(per_run) + len(per_batch) * len(bounds)
    assert tasks_for_10k < 100, "tens of task runs for 10,000 articles, not thousands"
    assert len(batch_bounds(120, 50, max_batches=20, max_batch_size=1000)) == 3

    monkeypatch.setenv("NEWSDESK_MAX_BATCHES", "2")
    links = [own_site.add_article(f"Council notice {i}") for i in range(24)]
    entries = [FeedEntry(link=link, source="batching") for link in links]
    settings = es_settings.model_copy(update={"batch_size": 5})
    state = ingest_entries(entries=entries, settings=settings, return_state=True)
    summary = state.result()
    assert summary.indexed == 24
    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
            )
        )
    names = [t.name.rsplit("-", 1)[0] for t in tasks]
    # 24 entries, batch_size 5 but at most 2 batches → 2 batches of 12: one known-check, then
    # the per-batch tasks once per batch.
    assert names.count("skip-known") == 1
    for name in per_batch:
        assert names.count(name) == 2, name
    assert len(tasks) == 1 + 2 * len(per_batch)


@flow
def _known_check_flow(settings: Settings, entries: list[FeedEntry]) -> str:
    """Runs the known-check task and returns its task run id, whatever became of it."""
    state = skip_known(settings, entries, return_state=True)
    return str(state.state_details.task_run_id)


def _attempts(task_run_id: str) -> tuple[str, int]:
    with get_client(sync_client=True) as client:
        run = client.read_task_run(uuid.UUID(task_run_id))
    return run.state_type.value if run.state_type else "", int(run.run_count)


def test_retries_happen_only_on_transient_errors(es_settings: Settings) -> None:
    from newsdesk.prefect_server import free_port

    entries = [FeedEntry(link="http://127.0.0.1:9/a.html", source="retry")]
    unreachable = es_settings.model_copy(
        update={"es_url": f"http://127.0.0.1:{free_port()}", "es_request_timeout": 1.0}
    )
    state, attempts = _attempts(_known_check_flow(unreachable, entries))
    assert state == "FAILED"
    assert attempts == 4, "connection refused is transient: 1 try + 3 retries"

    missing = es_settings.model_copy(update={"index_alias": f"missing-{uuid.uuid4().hex[:8]}"})
    state, attempts = _attempts(_known_check_flow(missing, entries))
    assert state == "FAILED"
    assert attempts == 1, "index_not_found is permanent: no retry"


def test_inline_ingest_run_table_counts_each_source(
    own_site: Site, es_settings: Settings, es_client: Elasticsearch
) -> None:
    sources = [
        SourceConfig.model_validate({"name": "news", "url": f"{own_site.base}/feed.xml"}),
        SourceConfig.model_validate(
            {"name": "partner", "url": f"{own_site.base}/partner/feed.xml"}
        ),
        SourceConfig.model_validate({"name": "down", "url": f"{own_site.base}/broken/feed.xml"}),
    ]
    state = ingest(sources=sources, settings=es_settings, return_state=True)
    summary = state.result()
    table, markdown = artifacts_of(state.state_details.flow_run_id)
    rows = {r["source"]: r for r in table}
    assert rows["news"] | {"reasons": ""} == {
        "source": "news",
        "feed": "ok",
        "polled": DEMO_ARTICLES,
        "new": DEMO_ARTICLES,
        "fetched": DEMO_ARTICLES,
        "indexed": DEMO_ARTICLES,
        "duplicates": 0,
        "skipped": 0,
        "failed": 0,
        "reasons": "",
    }
    # The partner feed's one article is also in the news feed: a duplicate, not fetched twice.
    assert (rows["partner"]["polled"], rows["partner"]["new"], rows["partner"]["duplicates"]) == (
        1,
        0,
        1,
    )
    assert rows["down"]["feed"].startswith("failed: ")
    assert "500" in rows["down"]["feed"]
    assert summary.indexed == DEMO_ARTICLES
    assert f"indexed: **{DEMO_ARTICLES}**" in markdown
