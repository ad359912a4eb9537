"""Incremental polling: re-poll a feed for (almost) nothing when it has not changed, and poll
each source about as often as it really publishes.

* Conditional GET is on by default: the ETag and Last-Modified of the last good response go
  out as If-None-Match / If-Modified-Since, and a 304 ends the poll.
* A feed whose server ignores them (or sends a new ETag for the same bytes) is caught by a
  SHA-256 of the body: the same body as last time is not even parsed.
* A sitemap index is cheap only if its children are: each child sitemap keeps validators of its
  own, and the children are polled even when the index itself did not change.
* The interval adapts (`next_interval`): it grows after failures and after polls that bring
  nothing new, shrinks when new entries arrive, never drops below a feed's own `<ttl>` or
  `sy:updatePeriod` hint, and stays within the source's `min_interval_minutes` and
  `max_interval_minutes`. `due_sources` picks the sources a scheduled run should poll now.

A poll never raises for a bad feed: it returns a `PollResult` whose `failure` says why. The
validators it returns are stored only after its new entries are safely queued, so a crash
between the two means the next poll re-reads the feed rather than losing entries.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from newsdesk.archive import WarcArchive
from newsdesk.errors import NewsdeskError
from newsdesk.feeds import ParsedFeed, parse_feed_document
from newsdesk.fetch import FEED_ACCEPT, FetchedPage, Fetcher, fetch_with_retries
from newsdesk.models import FeedEntry, Outcome, Status
from newsdesk.source_state import ChildState, PollStatus, SourceState, Validators
from newsdesk.sources import SourceConfig

log = logging.getLogger(__name__)


class PollSettings(BaseSettings):
    """`NEWSDESK_POLL_*` environment settings."""

    model_config = SettingsConfigDict(env_prefix="NEWSDESK_POLL_", extra="ignore")

    conditional_get: bool = True
    failure_backoff: float = Field(default=2.0, ge=1.0)
    idle_backoff: float = Field(default=1.5, ge=1.0)
    busy_speedup: float = Field(default=0.5, gt=0.0, le=1.0)
    max_child_feeds: int = Field(default=20, ge=0)


class PollResult(BaseModel):
    """One poll of one source: its new validators, entries, hints, or the failure."""

    source: str
    url: str
    status: PollStatus
    polled_at: datetime
    entries: list[FeedEntry] = Field(default_factory=list)
    failure: Outcome | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    children: list[ChildState] = Field(default_factory=list)
    hint_minutes: float | None = None
    hub: str | None = None
    conditional: bool = Field(default=False, description="Validators were sent with the GET.")
    warnings: list[str] = Field(default_factory=list)


def body_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _hint(parsed: ParsedFeed) -> float | None:
    hints = [h for h in (parsed.ttl_minutes, parsed.update_period_minutes) if h]
    return float(max(hints)) if hints else None


def _get(
    fetcher: Fetcher,
    url: str,
    known: Validators | None,
    conditional: bool,
    archive: WarcArchive | None,
) -> tuple[FetchedPage, bool]:
    """GET with the stored validators; a body is archived (as a revisit record when it is the
    same as last time), a 304 has none."""
    send = conditional and known is not None and bool(known.etag or known.last_modified)
    page = fetch_with_retries(
        fetcher,
        url,
        etag=known.etag if send and known else None,
        last_modified=known.last_modified if send and known else None,
        accept=FEED_ACCEPT,
    )
    if archive is not None and not page.not_modified:
        same = known is not None and known.body_hash == body_hash(page.content)
        archive.write(page, revisit=same)
    return page, send


def _validators(
    page: FetchedPage, known: Validators | None, digest: str | None
) -> tuple[str | None, str | None, str | None]:
    """ETag, Last-Modified and body hash to send and compare next time; a 304 may omit the
    validators, which then stay as they were."""
    kept = known if page.not_modified and known is not None else Validators()
    return (
        page.headers.get("etag") or kept.etag,
        page.headers.get("last-modified") or kept.last_modified,
        digest,
    )


def poll(
    fetcher: Fetcher,
    source: SourceConfig,
    state: SourceState | None = None,
    *,
    archive: WarcArchive | None = None,
    policy: PollSettings | None = None,
    now: datetime | None = None,
) -> PollResult:
    """Poll one source; a failure is in the result, never raised (except a stopped archive)."""
    policy = policy or PollSettings()
    url = str(source.url)
    polled_at = now or datetime.now(UTC)
    result = PollResult(source=source.name, url=url, status="ok", polled_at=polled_at)
    try:
        page, result.conditional = _get(fetcher, url, state, policy.conditional_get, archive)
        digest = state.body_hash if page.not_modified and state else body_hash(page.content)
        result.etag, result.last_modified, result.body_hash = _validators(page, state, digest)
        child_urls = [c.url for c in state.children] if state else []
        if page.not_modified or (state is not None and state.body_hash == digest):
            result.status = "not_modified" if page.not_modified else "unchanged"
            result.hint_minutes = state.hint_minutes if state else None
        else:
            parsed = parse_feed_document(page.content, feed_url=page.url, source=source.name)
            result.entries = list(parsed.entries)
            result.hint_minutes, result.hub = _hint(parsed), parsed.hub
            child_urls = parsed.child_feeds
        _poll_children(fetcher, source, child_urls, state, archive, policy, result)
        return result
    except NewsdeskError as exc:
        reason = exc.reason
    except Exception as exc:  # a parser bug must not stop the other sources
        log.exception("polling %s crashed", source.name)
        reason = f"poll crashed: {type(exc).__name__}: {exc}"
    log.warning("feed %s failed: %s", source.name, reason)
    return PollResult(
        source=source.name,
        url=url,
        status="failed",
        polled_at=polled_at,
        failure=Outcome(
            url=url, status=Status.FAILED, stage="poll", reason=reason, source=source.name
        ),
    )


def _poll_children(
    fetcher: Fetcher,
    source: SourceConfig,
    urls: list[str],
    state: SourceState | None,
    archive: WarcArchive | None,
    policy: PollSettings,
    result: PollResult,
) -> None:
    """Poll the first `max_child_feeds` child sitemaps, each with its own validators, into
    `result`; a failed child keeps its old validators minus the body hash (re-read next time).
    """
    known = {c.url: c for c in state.children} if state else {}
    attempted = urls[: policy.max_child_feeds]
    failed = 0
    for url in attempted:
        before = known.get(url)
        try:
            page, _ = _get(fetcher, url, before, policy.conditional_get, archive)
            if page.not_modified:
                digest = before.body_hash if before else None
            else:
                digest = body_hash(page.content)
            etag, last_modified, _ = _validators(page, before, digest)
            result.children.append(
                ChildState(url=url, etag=etag, last_modified=last_modified, body_hash=digest)
            )
            if page.not_modified or (before is not None and before.body_hash == digest):
                continue
            parsed = parse_feed_document(page.content, feed_url=page.url, source=source.name)
            result.entries.extend(parsed.entries)
        except NewsdeskError as exc:
            failed += 1
            result.warnings.append(f"child sitemap {url}: {exc.reason}")
            if result.children and result.children[-1].url == url:
                result.children.pop()
            if before is not None:
                result.children.append(before.model_copy(update={"body_hash": None}))
    if attempted and failed == len(attempted):
        raise NewsdeskError(f"every child sitemap failed; {result.warnings[0]}")


def _clamp(value: float, source: SourceConfig) -> float:
    low = min(source.min_interval_minutes, source.max_interval_minutes)
    high = max(source.min_interval_minutes, source.max_interval_minutes)
    return min(max(value, low), high)


def next_interval(
    source: SourceConfig,
    state: SourceState | None,
    result: PollResult,
    new_entries: int,
    policy: PollSettings | None = None,
) -> float:
    """Minutes until the source is due again.

    Multiplicative steps from the current interval: × `failure_backoff` after a failure,
    × `busy_speedup` when new entries arrived, × `idle_backoff` when nothing was new. The first
    poll keeps the configured interval (everything is new then). The feed's own hint is a floor.
    """
    policy = policy or PollSettings()
    current = (state.interval_minutes if state else None) or source.poll_interval_minutes
    if result.status == "failed":
        interval = current * policy.failure_backoff
    elif state is None or state.polls == 0:
        interval = source.poll_interval_minutes
    elif new_entries > 0:
        interval = current * policy.busy_speedup
    else:
        interval = current * policy.idle_backoff
    hint = result.hint_minutes if result.status != "failed" else None
    hint = hint or (state.hint_minutes if state else None)
    if hint:
        interval = max(interval, hint)
    return _clamp(interval, source)


def apply_poll(
    source: SourceConfig,
    state: SourceState | None,
    result: PollResult,
    new_entries: int,
    policy: PollSettings | None = None,
) -> SourceState:
    """The source's state after `result`, with `new_entries` of its entries found new."""
    before = state or SourceState(name=source.name)
    interval = next_interval(source, state, result, new_entries, policy)
    after = before.model_copy(deep=True)
    after.url = str(source.url)
    after.polls += 1
    after.last_poll_at = result.polled_at
    after.last_status = result.status
    after.interval_minutes = interval
    after.next_due_at = result.polled_at + timedelta(minutes=interval)
    if result.status == "failed":
        after.consecutive_failures += 1
        after.failing_since = before.failing_since or result.polled_at
        after.last_error = result.failure.reason if result.failure else "failed"
        return after
    after.consecutive_failures = 0
    after.failing_since = None
    after.last_error = "; ".join(result.warnings[:3]) or None
    after.last_success_at = result.polled_at
    after.etag, after.last_modified, after.body_hash = (
        result.etag,
        result.last_modified,
        result.body_hash,
    )
    after.children = list(result.children)
    after.hint_minutes = result.hint_minutes
    after.new_entries += new_entries
    return after


def due_sources(
    sources: list[SourceConfig], states: dict[str, SourceState], now: datetime | None = None
) -> list[SourceConfig]:
    """The enabled sources a scheduled run should poll at `now`: never polled, or due."""
    now = now or datetime.now(UTC)
    due = []
    for source in sources:
        if not source.enabled:
            continue
        state = states.get(source.name)
        if state is None or state.next_due_at is None or state.next_due_at <= now:
            due.append(source)
    return due
