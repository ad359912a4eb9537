"""The Prefect flows: poll feeds, then fetch, extract and index new articles in batches.

* `ingest` — poll every source and ingest what is new, in one run (the CLI's `newsdesk ingest`
  and `newsdesk demo`).
* `poll-sources` — the scheduled run of one source group: poll, find the new entries, and emit
  one `newsdesk.feed.polled` event per source; it fetches no article pages itself.
* `ingest-entries` — started by those events (and by `newsdesk.url.submitted` and WebSub
  deliveries): ingest exactly the entries the event names.

Tasks work on batches (a feed list, a chunk of articles), never one task per article, and the
batches grow with the run (`newsdesk.ingest.batch_bounds`) so a run of 10,000 articles still
creates tens of task runs, but never past `max_batch_size` pages; `ingest` polls its sources
in rounds of about `round_entries` entries (`_rounds`), so a run's memory stays flat in N.
Network I/O, parsing and indexing are separate tasks, pipelined so the network,
the extraction pool and Elasticsearch work at once; only indexing and the known-check retry,
and only on transient errors. A per-source lock (`flows.locks`) keeps
two runs off the same source. Every run publishes a per-source table and a markdown summary.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.utilities.annotations import quote

from flows.artifacts import publish_run_artifacts
from flows.events import emit_article_outcomes, emit_feed_polled, emit_source_failing
from flows.locks import source_locks
from flows.ops_settings import OpsSettings
from newsdesk import ingest as stages
from newsdesk.errors import ConfigError, is_transient
from newsdesk.es_client import connect
from newsdesk.fetch import Fetcher
from newsdesk.index import ensure_index, refresh
from newsdesk.ingest import RunStats, batch_bounds
from newsdesk.models import Article, FeedEntry, Outcome, RunSummary
from newsdesk.parallel import shared_pool
from newsdesk.polling import PollResult, due_sources
from newsdesk.settings import Settings, get_settings
from newsdesk.source_state import load_states
from newsdesk.sources import SourceConfig, load_feeds

# Waits between retries of the Elasticsearch-facing tasks: long enough to outlast a node
# restart or a burst of 429s, short enough that a run with a dead cluster fails within a minute.
ES_RETRY_DELAYS: list[float] = [1, 4, 10]

T = TypeVar("T")


def opaque(value: T) -> T:
    """`value` as a task argument Prefect does not walk. Prefect visits every element of a
    task's arguments (looking for futures and states to wait on); over a batch of pages,
    entries or Articles that was ~9% of an ingest's wall time. The task gets `value` itself."""
    return cast(T, quote(value))


def _retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    try:
        state.result()
    except Exception as exc:
        return is_transient(exc) or type(exc).__module__.startswith("elastic_transport")
    return False


@task(name="poll-feeds", cache_policy=NO_CACHE)
def poll_feeds(
    settings: Settings, sources: list[SourceConfig]
) -> tuple[list[FeedEntry], list[Outcome], list[PollResult]]:
    logger = get_run_logger()
    client = connect(settings)
    try:
        with Fetcher(settings) as fetcher:
            polls = stages.poll_sources(client, fetcher, settings, sources)
    finally:
        client.close()
    entries: list[FeedEntry] = []
    failures: list[Outcome] = []
    for poll in polls:
        if poll.failure:
            failures.append(poll.failure)
            logger.warning("feed %s failed: %s", poll.source, poll.failure.reason)
        else:
            logger.info("feed %s: %s, %d entries", poll.source, poll.status, len(poll.entries))
        entries.extend(poll.entries)
    return entries, failures, polls


@task(
    name="record-polls",
    cache_policy=NO_CACHE,
    retries=3,
    retry_delay_seconds=ES_RETRY_DELAYS,
    retry_condition_fn=_retry_transient,
)
def record_polls(
    settings: Settings,
    sources: list[SourceConfig],
    polls: list[PollResult],
    fresh: list[FeedEntry],
    lease_minutes: float | None,
) -> list[FeedEntry]:
    """Queue the new entries, then store the sources' state; returns their backlog."""
    lease = None if lease_minutes is None else timedelta(minutes=lease_minutes)
    client = connect(settings)
    try:
        return stages.record_polls(client, settings, sources, polls, fresh, lease=lease)
    finally:
        client.close()


@task(
    name="due-sources",
    cache_policy=NO_CACHE,
    retries=3,
    retry_delay_seconds=ES_RETRY_DELAYS,
    retry_condition_fn=_retry_transient,
)
def due_now(settings: Settings, sources: list[SourceConfig]) -> list[SourceConfig]:
    """The sources whose adaptive next-due time has come (or that were never polled)."""
    client = connect(settings)
    try:
        return due_sources(sources, load_states(client, settings, [s.name for s in sources]))
    finally:
        client.close()


def _failure_streaks(settings: Settings, names: list[str]) -> dict[str, int]:
    """Consecutive failed polls per source, from the state the poll just stored."""
    if not names:
        return {}
    client = connect(settings)
    try:
        return {n: s.consecutive_failures for n, s in load_states(client, settings, names).items()}
    finally:
        client.close()


@task(
    name="skip-known",
    cache_policy=NO_CACHE,
    retries=3,
    retry_delay_seconds=ES_RETRY_DELAYS,
    retry_condition_fn=_retry_transient,
)
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
def fetch_pages(
    settings: Settings, entries: list[FeedEntry], cancel: threading.Event | None = None
) -> tuple[list[Any], list[Outcome]]:
    with Fetcher(settings) as fetcher:
        return stages.fetch_pages(
            fetcher, entries, concurrency=settings.fetch_concurrency, cancel=cancel
        )


@task(name="extract-articles", cache_policy=NO_CACHE)
def extract_articles(fetched: list[Any]) -> tuple[list[Article], list[Outcome]]:
    """In the worker pool for real batches; a few pages (an event-triggered run of one new
    article) are extracted here, since starting the pool's processes costs more than that."""
    small = len(fetched) < OpsSettings().pool_min_pages
    return stages.extract_pages(fetched, None if small else shared_pool())


@task(
    name="index-articles",
    cache_policy=NO_CACHE,
    retries=3,
    retry_delay_seconds=ES_RETRY_DELAYS,
    retry_condition_fn=_retry_transient,
)
def index_articles(
    settings: Settings,
    articles: list[Article],
    entries: list[FeedEntry] | None = None,
    earlier: list[Outcome] | None = None,
) -> list[Outcome]:
    """Index a batch; with the batch's `entries` and their `earlier` (fetch, extract)
    outcomes, also record the batch: dead-letter failures (after retries when transient),
    forget what ended well, count articles per source (in this task, not one more per batch).
    """
    client = connect(settings)
    try:
        outcomes = stages.index_articles(client, settings, articles)
        if entries is not None:
            batch = [*(earlier or []), *outcomes]
            stages.record_outcomes(client, settings, entries, batch, articles)
        return outcomes
    finally:
        client.close()


def _with_hosts(settings: Settings, hosts: list[str]) -> Settings:
    extra = [h for h in hosts if h not in settings.allow_hosts]
    if not extra:
        return settings
    return settings.model_copy(update={"allow_hosts": [*settings.allow_hosts, *extra]})


def _prepare_index(settings: Settings) -> None:
    client = connect(settings)
    try:
        ensure_index(client, settings)
    finally:
        client.close()


def _refresh(settings: Settings) -> None:
    client = connect(settings)
    try:
        refresh(client, settings)
    finally:
        client.close()


def _known_check(
    settings: Settings, entries: list[FeedEntry], summary: RunSummary, stats: RunStats
) -> list[FeedEntry]:
    """Drop links another feed of this run already named, then those already indexed."""
    fresh, skipped = skip_known(settings, opaque(entries))
    for outcome in skipped:
        summary.add(outcome)
        stats.outcome(outcome)
    stats.new(fresh)
    return fresh


def _ingest_fresh(
    settings: Settings,
    ops: OpsSettings,
    fresh: list[FeedEntry],
    summary: RunSummary,
    stats: RunStats,
) -> None:
    """Batches in a pipeline: batch k+1 is fetched and batch k-1 indexed while batch k is
    extracted, so the network, Elasticsearch and the extraction pool work at the same time.
    Indexing stays in batch order (a batch's near-duplicate lookups see the batches before
    it), and at most three batches are held at once. If the run stops, the fetch running
    ahead is cancelled rather than waited for."""
    bounds = batch_bounds(
        len(fresh),
        settings.batch_size,
        max_batches=ops.max_batches,
        max_batch_size=ops.max_batch_size,
    )
    if not bounds:
        return
    cancel = threading.Event()
    ahead = fetch_pages.submit(settings, opaque(fresh[slice(*bounds[0])]), cancel)
    indexing: tuple[PrefectFuture[list[Outcome]], list[Outcome], list[Article]] | None = None
    try:
        for k, (start, end) in enumerate(bounds):
            fetched, fetch_failures = ahead.result()
            if k + 1 < len(bounds):
                ahead = fetch_pages.submit(settings, opaque(fresh[slice(*bounds[k + 1])]), cancel)
            summary.fetched += len(fetched)
            stats.fetched(fetched)
            articles, extract_outcomes = extract_articles(opaque(fetched))
            del fetched
            if indexing is not None:
                _account(settings, ops, *indexing, summary, stats)
            earlier = [*fetch_failures, *extract_outcomes]
            future = index_articles.submit(
                settings, opaque(articles), opaque(fresh[start:end]), opaque(earlier)
            )
            indexing = (future, earlier, articles)
        if indexing is not None:
            _account(settings, ops, *indexing, summary, stats)
    finally:
        cancel.set()


def _account(
    settings: Settings,
    ops: OpsSettings,
    future: PrefectFuture[list[Outcome]],
    earlier: list[Outcome],
    articles: list[Article],
    summary: RunSummary,
    stats: RunStats,
) -> None:
    """Wait for a batch's indexing, then count its outcomes and announce them."""
    outcomes = [*earlier, *future.result()]
    for outcome in outcomes:
        summary.add(outcome)
        stats.outcome(outcome)
    if ops.article_events:
        emit_article_outcomes(settings, outcomes, articles)


def _poll(
    settings: Settings,
    ops: OpsSettings,
    sources: list[SourceConfig],
    summary: RunSummary,
    stats: RunStats,
    lease_minutes: float | None = None,
) -> tuple[list[FeedEntry], dict[str, str]]:
    """Poll `sources` and find their new entries (plus their backlog: entries to retry, and
    pending ones older than `lease_minutes`); returns them and each failed feed's reason."""
    polled = poll_feeds(settings, opaque(sources))
    return _take_polls(settings, sources, polled, summary, stats, lease_minutes)


def _take_polls(
    settings: Settings,
    sources: list[SourceConfig],
    polled: tuple[list[FeedEntry], list[Outcome], list[PollResult]],
    summary: RunSummary,
    stats: RunStats,
    lease_minutes: float | None,
) -> tuple[list[FeedEntry], dict[str, str]]:
    """Count what `sources` were polled into, drop what is known, queue the rest and store
    the sources' state; returns the new entries with the backlog, and the feeds' failures."""
    entries, feed_failures, polls = polled
    errors = {o.source or "": o.reason or "failed" for o in feed_failures}
    seen: dict[str, int] = defaultdict(int)
    for entry in entries:
        seen[entry.source] += 1
    for source in sources:
        stats.feed(
            source.name,
            f"failed: {errors[source.name]}" if source.name in errors else "ok",
            seen[source.name],
        )
    for outcome in feed_failures:
        summary.add(outcome)
    summary.entries_found += len(entries)
    fresh = _known_check(settings, entries, summary, stats)
    backlog = record_polls(settings, opaque(sources), opaque(polls), opaque(fresh), lease_minutes)
    summary.entries_found += len(backlog)
    stats.new(backlog)
    return [*fresh, *backlog], errors


def _rounds(
    settings: Settings, ops: OpsSettings, sources: list[SourceConfig]
) -> Iterator[tuple[list[SourceConfig], tuple[list[FeedEntry], list[Outcome], list[PollResult]]]]:
    """The sources polled `ops.poll_chunk` feeds per task, handed on in rounds of at least
    `ops.round_entries` entries (or the last feeds): a run holds one round's entries at a
    time, however many articles the sources bring in all."""
    members: list[SourceConfig] = []
    entries: list[FeedEntry] = []
    failures: list[Outcome] = []
    polls: list[PollResult] = []
    step = max(1, ops.poll_chunk)
    for start in range(0, len(sources), step):
        chunk = sources[start : start + step]
        found, failed, results = poll_feeds(settings, opaque(chunk))
        members += chunk
        entries += found
        failures += failed
        polls += results
        if len(entries) >= ops.round_entries or start + step >= len(sources):
            yield members, (entries, failures, polls)
            members, entries, failures, polls = [], [], [], []


def _report_polls(
    settings: Settings,
    ops: OpsSettings,
    sources: list[SourceConfig],
    fresh: list[FeedEntry],
    errors: dict[str, str],
    stats: RunStats,
    *,
    handoff: Any,
) -> None:
    """One `newsdesk.feed.polled` per source; `newsdesk.source.failing` for a failure streak."""
    logger = get_run_logger()
    by_source: dict[str, list[FeedEntry]] = defaultdict(list)
    for entry in fresh:
        by_source[entry.source].append(entry)
    try:
        streaks = _failure_streaks(settings, [s.name for s in sources if s.name in errors])
    except Exception as exc:  # the alert must never break ingestion
        logger.warning("cannot read the sources' failure counts: %s", exc)
        streaks = {}
    for source in sources:
        error = errors.get(source.name)
        streak = streaks.get(source.name, 1 if error else 0)
        if error and streak >= ops.alert_after_failures:
            logger.error("source %s failed %d polls in a row: %s", source.name, streak, error)
            emit_source_failing(
                settings, source.name, streak=streak, error=error, feed_url=str(source.url)
            )
        emit_feed_polled(
            settings,
            source.name,
            feed_url=str(source.url),
            new_entries=by_source.get(source.name, []),
            entries_seen=stats.of(source.name).polled,
            error=error,
            handoff=handoff,
            ops=ops,
        )


def _finish(
    flow_name: str,
    scope: str,
    settings: Settings,
    ops: OpsSettings,
    summary: RunSummary,
    stats: RunStats,
) -> RunSummary:
    publish_run_artifacts(flow_name, scope, summary, stats, search_url=ops.search_url)
    get_run_logger().info(
        "%s done: %d feeds polled (%d failed), %d entries, %d fetched, "
        "%d indexed, %d skipped, %d failed",
        flow_name,
        summary.feeds_polled,
        summary.feeds_failed,
        summary.entries_found,
        summary.fetched,
        summary.indexed,
        summary.skipped,
        summary.failed,
    )
    return summary


@flow(name="ingest", log_prints=True)
def ingest(
    feeds_file: str | None = None,
    sources: list[SourceConfig] | None = None,
    allow_hosts: list[str] | None = None,
    settings: Settings | None = None,
) -> RunSummary:
    """Ingest every enabled source of `feeds_file` (or the given `sources`) in this run."""
    settings = settings or get_settings()
    ops = OpsSettings()
    if sources is None:
        feeds = load_feeds(Path(feeds_file) if feeds_file else settings.feeds_file)
        sources = feeds.sources
        allow_hosts = [*(allow_hosts or []), *feeds.allow_hosts]
    settings = _with_hosts(settings, allow_hosts or [])
    sources = [s for s in sources if s.enabled]
    _prepare_index(settings)

    summary = RunSummary(feeds_polled=len(sources))
    stats = RunStats()
    with source_locks([s.name for s in sources], ops=ops):
        for members, polled in _rounds(settings, ops, sources):
            fresh, errors = _take_polls(settings, members, polled, summary, stats, 0)
            _report_polls(settings, ops, members, fresh, errors, stats, handoff="inline")
            _ingest_fresh(settings, ops, fresh, summary, stats)
    _refresh(settings)
    return _finish("ingest", "all", settings, ops, summary, stats)


@flow(name="poll-sources", log_prints=True)
def poll_sources(
    group: str = "default",
    feeds_file: str | None = None,
    settings: Settings | None = None,
    all_sources: bool = False,
) -> RunSummary:
    """Poll the sources of one group that are due (each source's adaptive interval), or all
    of them with `all_sources`, and hand their new entries on as events."""
    settings = settings or get_settings()
    ops = OpsSettings()
    logger = get_run_logger()
    feeds = load_feeds(Path(feeds_file) if feeds_file else settings.feeds_file)
    settings = _with_hosts(settings, feeds.allow_hosts)
    members = [s for s in feeds.sources if s.enabled and s.group == group]
    if not members:
        logger.warning("group %s has no enabled sources", group)
        return RunSummary()
    _prepare_index(settings)
    sources = members if all_sources else due_now(settings, opaque(members))
    summary = RunSummary(feeds_polled=len(sources))
    stats = RunStats()
    if not sources:
        logger.info("group %s: none of its %d sources is due", group, len(members))
        return summary
    with source_locks([s.name for s in sources], ops=ops):
        fresh, errors = _poll(settings, ops, sources, summary, stats)
    _report_polls(settings, ops, sources, fresh, errors, stats, handoff="requested")
    return _finish("poll-sources", group, settings, ops, summary, stats)


@flow(name="ingest-entries", log_prints=True)
def ingest_entries(
    entries: list[FeedEntry],
    feeds_file: str | None = None,
    settings: Settings | None = None,
) -> RunSummary:
    """Ingest exactly `entries` (from a `newsdesk.feed.polled` or `newsdesk.url.submitted`
    event, or a WebSub delivery)."""
    settings = settings or get_settings()
    ops = OpsSettings()
    try:
        feeds = load_feeds(Path(feeds_file) if feeds_file else settings.feeds_file)
        settings = _with_hosts(settings, feeds.allow_hosts)
    except ConfigError as exc:
        get_run_logger().warning("sources file not read (%s); using settings.allow_hosts", exc)
    _prepare_index(settings)
    summary = RunSummary(entries_found=len(entries))
    stats = RunStats()
    stats.received(entries)
    names = sorted({e.source for e in entries})
    with source_locks(names, ops=ops):
        fresh = _known_check(settings, entries, summary, stats)
        _ingest_fresh(settings, ops, fresh, summary, stats)
    _refresh(settings)
    scope = names[0] if len(names) == 1 else "mixed"
    return _finish("ingest-entries", scope, settings, ops, summary, stats)
