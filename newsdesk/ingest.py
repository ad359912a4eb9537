"""The ingestion stages as plain functions: poll → known-check → fetch → extract → index.

Each stage takes a batch and returns what passed plus one `Outcome` for everything that ended
there, so every discovered URL is accounted for (indexed, skipped with a reason, or failed).
The Prefect flow in `flows/ingest.py` only composes these.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import repeat
from urllib.parse import urlsplit

from elasticsearch import Elasticsearch

from extractors import extract_article
from extractors.fingerprint import fingerprint
from newsdesk import deadletter
from newsdesk.archive import ArchiveUnavailable, WarcArchive, archive_page, shared_archive
from newsdesk.clusters import assign_clusters
from newsdesk.errors import NewsdeskError, NotAnArticle
from newsdesk.fetch import (
    DEFAULT_ACCEPT,
    FetchedPage,
    Fetcher,
    fetch_with_retries,
    require_html,
)
from newsdesk.index import existing_ids, refresh
from newsdesk.models import Article, FeedEntry, Outcome, Status
from newsdesk.parallel import Extracted, ExtractionPool, PageJob
from newsdesk.polling import PollResult, apply_poll, poll
from newsdesk.settings import Settings, get_settings
from newsdesk.source_state import add_articles, load_states, save_states
from newsdesk.sources import SourceConfig
from newsdesk.threadmap import daemon_map
from newsdesk.urls import article_id, normalize_url, same_site
from newsdesk.writer import write_articles

log = logging.getLogger(__name__)

Fetched = tuple[FeedEntry, FetchedPage]

# Links per known-check search: well under Elasticsearch's 10,000-hit result window.
KNOWN_CHUNK = 5000


def poll_source(fetcher: Fetcher, source: SourceConfig) -> tuple[list[FeedEntry], Outcome | None]:
    """Fetch and parse one feed without stored state; a failure becomes the feed's Outcome."""
    result = poll(fetcher, source)
    return result.entries, result.failure


def poll_sources(
    client: Elasticsearch, fetcher: Fetcher, settings: Settings, sources: list[SourceConfig]
) -> list[PollResult]:
    """Poll each source with its stored validators (conditional GET, then the body hash), and
    archive every response. The sources' new state is stored later by `record_polls`."""
    states = load_states(client, settings, [s.name for s in sources])
    archive = shared_archive(settings)
    return [poll(fetcher, s, states.get(s.name), archive=archive) for s in sources]


def record_polls(
    client: Elasticsearch,
    settings: Settings,
    sources: list[SourceConfig],
    polls: list[PollResult],
    fresh: list[FeedEntry],
    *,
    lease: timedelta | None = None,
    now: datetime | None = None,
) -> list[FeedEntry]:
    """Queue the polls' new entries, *then* store the sources' new state (validators, adaptive
    interval, counts), so a run that dies later cannot lose entries behind a 304. Returns the
    backlog of these sources still to ingest: entries to retry, and pending ones older than
    `lease` (default `NEWSDESK_RETRY_PENDING_LEASE_MINUTES`) whose run presumably died."""
    deadletter.queue_pending(client, settings, fresh, now)
    by_name = {s.name: s for s in sources}
    states = load_states(client, settings, by_name)
    new = Counter(e.source for e in fresh)
    save_states(
        client,
        settings,
        [
            apply_poll(by_name[p.source], states.get(p.source), p, new[p.source])
            for p in polls
            if p.source in by_name
        ],
    )
    if lease is None:
        lease = timedelta(minutes=deadletter.RetrySettings().pending_lease_minutes)
    backlog = deadletter.claim_backlog(
        client,
        settings,
        [p.source for p in polls],
        lease=lease,
        now=now,
        exclude={article_id(e.link) for e in fresh},
    )
    if not backlog:
        return []
    waiting, done = split_known(client, settings, dedupe_entries(backlog)[0])
    deadletter.forget(client, settings, [article_id(o.url) for o in done])
    return waiting


def dedupe_entries(entries: Iterable[FeedEntry]) -> tuple[list[FeedEntry], list[Outcome]]:
    """One entry per article id: the same article in two feeds (or with tracking
    parameters) is fetched once; the other links are skipped with a reason."""
    seen: dict[str, FeedEntry] = {}
    skipped: list[Outcome] = []
    for entry in entries:
        doc_id = article_id(entry.link)
        first = seen.setdefault(doc_id, entry)
        if first is not entry:
            skipped.append(
                Outcome(
                    url=entry.link,
                    status=Status.SKIPPED,
                    stage="fetch",
                    reason=f"same article as {first.link} (from {first.source})",
                    article_id=doc_id,
                    source=entry.source,
                )
            )
    return list(seen.values()), skipped


def split_known(
    client: Elasticsearch,
    settings: Settings,
    entries: list[FeedEntry],
    *,
    include_dead: bool = False,
    chunk: int = KNOWN_CHUNK,
) -> tuple[list[FeedEntry], list[Outcome]]:
    """Drop entries whose article is already indexed, asking the index for all ids at once
    (their links `chunk` at a time), and (unless `include_dead`) links dead-lettered before,
    so a 404 is not fetched again on every poll; `newsdesk failures retry` is the way to try
    those again."""
    ids = {article_id(e.link): e for e in entries}
    known = existing_ids(client, settings, list(ids))
    known |= _known_by_source_url(
        client, settings, [normalize_url(e.link) for e in entries], chunk=chunk
    )
    fresh, skipped = [], []
    for doc_id, entry in ids.items():
        if doc_id in known or normalize_url(entry.link) in known:
            skipped.append(
                Outcome(
                    url=entry.link,
                    status=Status.SKIPPED,
                    stage="fetch",
                    reason="already indexed",
                    article_id=doc_id,
                    source=entry.source,
                )
            )
        else:
            fresh.append(entry)
    if include_dead or not fresh:
        return fresh, skipped
    dead = deadletter.dead_ids(client, settings, [article_id(e.link) for e in fresh])
    if not dead:
        return fresh, skipped
    alive = []
    for entry in fresh:
        letter = dead.get(article_id(entry.link))
        if letter is None:
            alive.append(entry)
            continue
        skipped.append(
            Outcome(
                url=entry.link,
                status=Status.SKIPPED,
                stage="fetch",
                reason=f"dead-lettered after {letter.attempts} attempt(s): {letter.reason}",
                article_id=letter.id,
                source=entry.source,
            )
        )
    return alive, skipped


def _known_by_source_url(
    client: Elasticsearch, settings: Settings, urls: list[str], *, chunk: int = KNOWN_CHUNK
) -> set[str]:
    """Links whose article was indexed under its canonical URL (so its id differs), asked
    `chunk` links per search: one search may return at most `index.max_result_window` hits."""
    known: set[str] = set()
    unique = list(dict.fromkeys(urls))
    step = max(1, chunk)
    for start in range(0, len(unique), step):
        part = unique[start : start + step]
        resp = client.search(
            index=settings.index_alias,
            query={"terms": {"source_url": part}},
            source_includes=["source_url"],
            size=len(part),
        )
        known.update(hit["_source"]["source_url"] for hit in resp["hits"]["hits"])
    return known


def _fetch_one(
    fetcher: Fetcher, entry: FeedEntry, archive: WarcArchive | None
) -> FetchedPage | Outcome:
    """Fetch one page and archive the response, HTML or not (ArchiveUnavailable, raised when
    the archive is full and its policy is `stop`, stops the batch)."""
    try:
        page = fetch_with_retries(fetcher, entry.link, accept=DEFAULT_ACCEPT)
        return require_html(archive_page(archive, page))
    except ArchiveUnavailable:
        raise
    except NewsdeskError as exc:
        return Outcome(
            url=entry.link,
            status=Status.FAILED,
            stage="fetch",
            reason=exc.reason,
            source=entry.source,
            transient=exc.transient,
        )


def fetch_pages(
    fetcher: Fetcher,
    entries: list[FeedEntry],
    *,
    concurrency: int,
    cancel: threading.Event | None = None,
) -> tuple[list[Fetched], list[Outcome]]:
    """Fetch `concurrency` pages at a time; setting `cancel` (the run is stopping) abandons the
    fetches still running and raises `MapCancelled`."""
    fetched: list[Fetched] = []
    failed: list[Outcome] = []
    archive = shared_archive(fetcher.settings)
    results = daemon_map(
        lambda e: _fetch_one(fetcher, e, archive), entries, workers=concurrency, cancel=cancel
    )
    for entry, result in zip(entries, results, strict=True):
        if isinstance(result, Outcome):
            failed.append(result)
        else:
            fetched.append((entry, result))
    return fetched, failed


def _identity_url(link: str, canonical: str | None) -> str:
    """The page's canonical URL wins over the link when it is on the same site (`www.` and
    `m.` hosts included), so it decides whether they serve the same page. A canonical naming
    the site's home page from an article is a CMS mistake that would merge every article of
    the site into one document, so it is ignored."""
    if not canonical:
        return link
    parts = urlsplit(canonical)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return link
    if parts.path in ("", "/") and not parts.query and urlsplit(link).path not in ("", "/"):
        return link
    return canonical if same_site(canonical, link) else link


def _extract_fields(page: FetchedPage) -> Extracted:
    try:
        return extract_article(page.content, page.url, charset=page.charset, ner=get_settings().ner)
    except NewsdeskError as exc:
        return NotAnArticle(exc.reason, url=page.url)


def build_article(
    entry: FeedEntry, page: FetchedPage, fields: Extracted | None = None
) -> Article | Outcome:
    """Extract one fetched page into an Article, or the Outcome that says why not. `fields`
    is the page's extraction when it was done elsewhere (an `ExtractionPool` worker)."""
    if fields is None:
        fields = _extract_fields(page)
    if isinstance(fields, NotAnArticle):
        return Outcome(
            url=entry.link,
            status=Status.SKIPPED,
            stage="extract",
            reason=fields.reason,
            source=entry.source,
        )
    if fields.published_at is None and entry.published is not None:
        fields.published_at = entry.published
        fields.provenance["published_at"] = "feed"
    url = normalize_url(_identity_url(page.url, fields.canonical_url))
    if fields.content_hash is None:
        prints = fingerprint(fields.body)
        fields.content_hash, fields.simhash = prints.content_hash, prints.simhash
        fields.simhash_bands = prints.bands
    data = fields.model_dump()
    data.update(
        id=article_id(url),
        url=url,
        source_url=normalize_url(entry.link),
        source=entry.source,
        feed_url=entry.feed_url,
        fetched_at=page.fetched_at or datetime.now(UTC),
        raw_location=getattr(page, "raw_location", None),
    )
    return Article.model_validate(data)


def extract_pages(
    fetched: list[Fetched], pool: ExtractionPool | None = None
) -> tuple[list[Article], list[Outcome]]:
    """Articles from fetched pages; with `pool` the extraction runs in its worker processes,
    on every core, while the assembly of each Article stays here."""
    extracted: Iterable[Extracted | None] = repeat(None)
    if pool is not None:
        ner = get_settings().ner
        extracted = pool.extract(PageJob(p.content, p.url, p.charset, ner) for _, p in fetched)
    articles: list[Article] = []
    outcomes: list[Outcome] = []
    for (entry, page), fields in zip(fetched, extracted, strict=False):
        result = build_article(entry, page, fields)
        if isinstance(result, Outcome):
            outcomes.append(result)
        else:
            articles.append(result)
    return articles, outcomes


def index_articles(
    client: Elasticsearch, settings: Settings, articles: list[Article]
) -> list[Outcome]:
    """Give each article its near-duplicate cluster, write the batch, and refresh so the next
    batch's cluster lookups see it. The first article of an id is written: within the batch,
    and across batches and runs, so an id another link already indexed (a syndicated copy
    naming an earlier article as canonical) is skipped as a duplicate, not written and
    counted again. Its own link rewriting it (a retry) is written."""
    first: dict[str, Article] = {}
    for article in articles:
        first.setdefault(article.id, article)
    taken = _indexed_from_other_links(client, settings, list(first.values()))
    unique = [a for a in first.values() if a.id not in taken]
    assign_clusters(client, settings, unique)
    outcomes = write_articles(client, settings, unique)
    if any(o.status is Status.INDEXED for o in outcomes):
        refresh(client, settings)
    written = {a.id for a in unique}
    for a in articles:
        if a.id in taken:
            reason = f"same article as {taken[a.id]} (already indexed)"
        elif a.id in written and first[a.id] is not a:
            reason = "duplicate of another link in this run"
        else:
            continue
        outcomes.append(
            Outcome(
                url=a.source_url,
                status=Status.SKIPPED,
                stage="index",
                reason=reason,
                article_id=a.id,
                source=a.source,
            )
        )
    return outcomes


def _indexed_from_other_links(
    client: Elasticsearch, settings: Settings, articles: list[Article]
) -> dict[str, str]:
    """Of `articles`, the ids already in the index under another link: id → that link."""
    if not articles:
        return {}
    resp = client.mget(
        index=settings.index_alias, ids=[a.id for a in articles], source_includes=["source_url"]
    )
    links = {a.id: a.source_url for a in articles}
    taken: dict[str, str] = {}
    for doc in resp["docs"]:
        if not doc.get("found"):
            continue
        stored = (doc.get("_source") or {}).get("source_url") or doc["_id"]
        if stored != links.get(doc["_id"]):
            taken[doc["_id"]] = stored
    return taken


def record_outcomes(
    client: Elasticsearch,
    settings: Settings,
    entries: list[FeedEntry],
    outcomes: list[Outcome],
    articles: list[Article] | None = None,
) -> None:
    """After a batch: dead-letter its failures (transient ones are retried first), forget the
    links that ended indexed or skipped, and count indexed articles on their sources."""
    deadletter.record_outcomes(client, settings, entries, outcomes, articles or [])
    counts = Counter(o.source for o in outcomes if o.status is Status.INDEXED and o.source)
    add_articles(client, settings, dict(counts))


def process_entries(
    client: Elasticsearch,
    fetcher: Fetcher,
    settings: Settings,
    entries: list[FeedEntry],
    *,
    include_dead: bool = False,
    pool: ExtractionPool | None = None,
) -> list[Outcome]:
    """Every stage after polling, without Prefect: used to re-run dead letters through the
    same stages (`newsdesk failures retry`). One Outcome per entry."""
    unique, duplicates = dedupe_entries(entries)
    fresh, known = split_known(client, settings, unique, include_dead=include_dead)
    if include_dead:
        deadletter.forget(client, settings, [article_id(o.url) for o in known])
    fetched, fetch_failures = fetch_pages(fetcher, fresh, concurrency=settings.fetch_concurrency)
    articles, extract_outcomes = extract_pages(fetched, pool)
    outcomes = [*fetch_failures, *extract_outcomes, *index_articles(client, settings, articles)]
    record_outcomes(client, settings, fresh, outcomes, articles)
    return [*duplicates, *known, *outcomes]


def batch_bounds(
    total: int, batch_size: int, *, max_batches: int, max_batch_size: int
) -> list[tuple[int, int]]:
    """(start, end) of each batch: `batch_size` items each, grown so that a large run has at
    most `max_batches` batches (Prefect bookkeeping per task stays small next to the work),
    but never past `max_batch_size` (memory)."""
    if total <= 0:
        return []
    size = max(1, batch_size, -(-total // max(1, max_batches)))
    size = min(size, max(1, max_batch_size))
    return [(start, min(start + size, total)) for start in range(0, total, size)]


_DUPLICATE_REASONS = ("already indexed", "duplicate", "same article as")


@dataclass
class SourceStats:
    """One source's row in a run's report: what was polled, new, fetched, indexed or not."""

    source: str
    feed: str = "-"
    polled: int = 0
    new: int = 0
    fetched: int = 0
    indexed: int = 0
    duplicates: int = 0
    skipped: int = 0
    failed: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def row(self) -> dict[str, str | int]:
        return {
            "source": self.source,
            "feed": self.feed,
            "polled": self.polled,
            "new": self.new,
            "fetched": self.fetched,
            "indexed": self.indexed,
            "duplicates": self.duplicates,
            "skipped": self.skipped,
            "failed": self.failed,
            "reasons": "; ".join(f"{r} ×{n}" for r, n in self.reasons.most_common(5)),
        }


class RunStats:
    """Per-source counts of one run, fed as the stages finish."""

    def __init__(self) -> None:
        self.sources: dict[str, SourceStats] = {}

    def of(self, source: str | None) -> SourceStats:
        name = source or "unknown"
        if name not in self.sources:
            self.sources[name] = SourceStats(name)
        return self.sources[name]

    def feed(self, source: str, status: str, entries: int) -> None:
        stats = self.of(source)
        stats.feed = status
        stats.polled += entries

    def received(self, entries: Iterable[FeedEntry]) -> None:
        """Entries handed to a run by an event rather than polled by it."""
        for entry in entries:
            stats = self.of(entry.source)
            stats.feed = "event"
            stats.polled += 1

    def new(self, entries: Iterable[FeedEntry]) -> None:
        for entry in entries:
            self.of(entry.source).new += 1

    def fetched(self, fetched: Iterable[Fetched]) -> None:
        for entry, _ in fetched:
            self.of(entry.source).fetched += 1

    def outcome(self, outcome: Outcome) -> None:
        if outcome.stage == "poll":
            return
        stats = self.of(outcome.source)
        if outcome.status is Status.INDEXED:
            stats.indexed += 1
        elif outcome.status is Status.SKIPPED:
            reason = outcome.reason or ""
            if any(r in reason for r in _DUPLICATE_REASONS):
                stats.duplicates += 1
            else:
                stats.skipped += 1
                stats.reasons[reason or "skipped"] += 1
        else:
            stats.failed += 1
            stats.reasons[f"{outcome.stage}: {outcome.reason or 'failed'}"] += 1

    def rows(self) -> list[dict[str, str | int]]:
        return [s.row() for s in sorted(self.sources.values(), key=lambda s: s.source)]
