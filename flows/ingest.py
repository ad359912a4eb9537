"""The `ingest` flow: poll feeds, then fetch, extract and index new articles in batches.

Tasks work on batches (a feed list, a chunk of articles), never one task per article, so
Prefect's per-task bookkeeping stays small next to the work. Network I/O, parsing and indexing
are separate tasks so each can be retried on its own; retries happen only for transient errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from newsdesk import ingest as stages
from newsdesk.errors import is_transient
from newsdesk.es_client import connect
from newsdesk.fetch import Fetcher
from newsdesk.index import ensure_index, refresh
from newsdesk.models import Article, FeedEntry, Outcome, RunSummary
from newsdesk.settings import Settings, get_settings
from newsdesk.sources import SourceConfig, load_feeds


def _retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    try:
        state.result()
    except Exception as exc:
        return is_transient(exc) or type(exc).__module__.startswith("elastic_transport")
    return False


@task(name="poll-feeds", cache_policy=NO_CACHE)
def poll_feeds(
    settings: Settings, sources: list[SourceConfig]
) -> tuple[list[FeedEntry], list[Outcome]]:
    logger = get_run_logger()
    entries: list[FeedEntry] = []
    failures: list[Outcome] = []
    with Fetcher(settings) as fetcher:
        for source in sources:
            found, failure = stages.poll_source(fetcher, source)
            if failure:
                failures.append(failure)
                logger.warning("feed %s failed: %s", source.name, failure.reason)
            else:
                logger.info("feed %s: %d entries", source.name, len(found))
            entries.extend(found)
    return entries, failures


@task(name="skip-known", cache_policy=NO_CACHE, retries=3, retry_condition_fn=_retry_transient)
def skip_known(
    settings: Settings, entries: list[FeedEntry]
) -> tuple[list[FeedEntry], list[Outcome]]:
    unique, duplicates = stages.dedupe_entries(entries)
    client = connect(settings)
    try:
        fresh, known = stages.split_known(client, settings, unique)
    finally:
        client.close()
    return fresh, [*duplicates, *known]


@task(name="fetch-pages", cache_policy=NO_CACHE)
def fetch_pages(settings: Settings, entries: list[FeedEntry]) -> tuple[list[Any], list[Outcome]]:
    with Fetcher(settings) as fetcher:
        return stages.fetch_pages(fetcher, entries, concurrency=settings.fetch_concurrency)


@task(name="extract-articles", cache_policy=NO_CACHE)
def extract_articles(fetched: list[Any]) -> tuple[list[Article], list[Outcome]]:
    return stages.extract_pages(fetched)


@task(name="index-articles", cache_policy=NO_CACHE, retries=3, retry_condition_fn=_retry_transient)
def index_articles(settings: Settings, articles: list[Article]) -> list[Outcome]:
    client = connect(settings)
    try:
        return stages.index_articles(client, settings, articles)
    finally:
        client.close()


@flow(name="ingest", log_prints=True)
def ingest(
    feeds_file: str | None = None,
    sources: list[SourceConfig] | None = None,
    allow_hosts: list[str] | None = None,
    settings: Settings | None = None,
) -> RunSummary:
    """Ingest every enabled source of `feeds_file` (or the given `sources`)."""
    logger = get_run_logger()
    settings = settings or get_settings()
    if sources is None:
        feeds = load_feeds(Path(feeds_file) if feeds_file else settings.feeds_file)
        sources = feeds.sources
        allow_hosts = [*(allow_hosts or []), *feeds.allow_hosts]
    if allow_hosts:
        settings = settings.model_copy(
            update={"allow_hosts": [*settings.allow_hosts, *allow_hosts]}
        )
    sources = [s for s in sources if s.enabled]

    client = connect(settings)
    try:
        ensure_index(client, settings)
    finally:
        client.close()

    summary = RunSummary(feeds_polled=len(sources))
    entries, feed_failures = poll_feeds(settings, sources)
    for outcome in feed_failures:
        summary.add(outcome)
    summary.entries_found = len(entries)

    fresh, skipped = skip_known(settings, entries)
    for outcome in skipped:
        summary.add(outcome)
    for start in range(0, len(fresh), settings.batch_size):
        batch = fresh[start : start + settings.batch_size]
        fetched, fetch_failures = fetch_pages(settings, batch)
        summary.fetched += len(fetched)
        articles, extract_outcomes = extract_articles(fetched)
        for outcome in [*fetch_failures, *extract_outcomes, *index_articles(settings, articles)]:
            summary.add(outcome)

    client = connect(settings)
    try:
        refresh(client, settings)
    finally:
        client.close()
    logger.info(
        "ingest done: %d feeds polled (%d failed), %d entries, %d fetched, "
        "%d indexed, %d skipped, %d failed",
        summary.feeds_polled,
        summary.feeds_failed,
        summary.entries_found,
        summary.fetched,
        summary.indexed,
        summary.skipped,
        summary.failed,
    )
    return summary
