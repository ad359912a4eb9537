"""newsdesk's Prefect events: names, resources, small payloads, and reading them back.

Events carry identifiers and small payloads (links, titles, counts, reasons), never article
bodies. Every resource has the label `newsdesk.index` (the index alias), so two installations
sharing one Prefect server do not trigger each other's deployments.

* `newsdesk.feed.polled` — resource `newsdesk.source.<name>`; payload: `new_entries` (at most
  `OpsSettings.event_entries` per event; more become several events), `new`, `not_modified`,
  `error`. The resource label `newsdesk.ingest` says who ingests the new entries: `requested`
  (the event-triggered `ingest-entries` deployment), `inline` (the run that polled) or `none`.
* `newsdesk.source.failing` — a source failed `alert_after_failures` polls in a row.
* `newsdesk.article.indexed` / `newsdesk.article.failed` — resource `newsdesk.article.<id>`,
  related to the source.
* `newsdesk.url.submitted` — URLs accepted from a user; payload `entries`, ingested by the
  same event-triggered deployment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from prefect.events import emit_event

from flows.ops_settings import OpsSettings
from newsdesk.models import Article, FeedEntry, Outcome, Status
from newsdesk.settings import Settings
from newsdesk.urls import article_id

FEED_POLLED = "newsdesk.feed.polled"
SOURCE_FAILING = "newsdesk.source.failing"
ARTICLE_INDEXED = "newsdesk.article.indexed"
ARTICLE_FAILED = "newsdesk.article.failed"
URL_SUBMITTED = "newsdesk.url.submitted"

INDEX_LABEL = "newsdesk.index"
INGEST_LABEL = "newsdesk.ingest"
SUBMITTED_SOURCE = "submitted"
_TITLE_CHARS = 200

Handoff = Literal["requested", "inline", "none"]


def source_resource(settings: Settings, name: str, **labels: str) -> dict[str, str]:
    return {
        "prefect.resource.id": f"newsdesk.source.{name}",
        "prefect.resource.name": name,
        INDEX_LABEL: settings.index_alias,
        **labels,
    }


def entry_payload(entry: FeedEntry) -> dict[str, Any]:
    """What an event says about one entry: enough to fetch it, nothing heavy."""
    data: dict[str, Any] = {"link": entry.link, "source": entry.source}
    if entry.title:
        data["title"] = entry.title[:_TITLE_CHARS]
    if entry.published:
        data["published"] = entry.published.isoformat()
    if entry.feed_url:
        data["feed_url"] = entry.feed_url
    return data


def _chunks(items: Sequence[FeedEntry], size: int) -> list[Sequence[FeedEntry]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [items]


def emit_feed_polled(
    settings: Settings,
    source: str,
    *,
    feed_url: str | None,
    new_entries: Sequence[FeedEntry],
    entries_seen: int = 0,
    not_modified: bool = False,
    error: str | None = None,
    handoff: Handoff = "requested",
    via: Literal["poll", "websub"] = "poll",
    ops: OpsSettings | None = None,
) -> int:
    """One `newsdesk.feed.polled` event per chunk of new entries (one event when none).

    Returns the number of events emitted."""
    ops = ops or OpsSettings()
    if not new_entries and handoff == "requested":
        handoff = "none"
    chunks = _chunks(new_entries, ops.event_entries)
    for part, chunk in enumerate(chunks, 1):
        emit_event(
            FEED_POLLED,
            resource=source_resource(settings, source, **{INGEST_LABEL: handoff}),
            payload={
                "feed_url": feed_url,
                "via": via,
                "entries_seen": entries_seen,
                "new": len(new_entries),
                "new_entries": [entry_payload(e) for e in chunk],
                "part": part,
                "parts": len(chunks),
                "not_modified": not_modified,
                "error": error,
            },
        )
    return len(chunks)


def emit_source_failing(
    settings: Settings, source: str, *, streak: int, error: str | None, feed_url: str | None
) -> None:
    emit_event(
        SOURCE_FAILING,
        resource=source_resource(settings, source),
        payload={"consecutive_failures": streak, "error": error, "feed_url": feed_url},
    )


def emit_urls_submitted(
    settings: Settings, urls: Iterable[str], *, ops: OpsSettings | None = None
) -> int:
    """Hand user-submitted URLs (already checked, e.g. by `newsdesk.submissions.check_urls`)
    to the event-triggered ingestion. Returns the number of events emitted."""
    ops = ops or OpsSettings()
    entries = [FeedEntry(link=u, source=SUBMITTED_SOURCE) for u in urls]
    if not entries:
        return 0
    chunks = _chunks(entries, ops.event_entries)
    for chunk in chunks:
        emit_event(
            URL_SUBMITTED,
            resource={
                "prefect.resource.id": "newsdesk.submissions",
                "prefect.resource.name": "submitted URLs",
                INDEX_LABEL: settings.index_alias,
            },
            payload={"entries": [entry_payload(e) for e in chunk]},
        )
    return len(chunks)


def emit_article_outcomes(
    settings: Settings, outcomes: Iterable[Outcome], articles: Iterable[Article] = ()
) -> int:
    """`newsdesk.article.indexed` / `.failed` for each indexed or failed outcome."""
    titles = {a.id: a.title for a in articles}
    count = 0
    for outcome in outcomes:
        if outcome.status is Status.SKIPPED:
            continue
        doc_id = outcome.article_id or article_id(outcome.url)
        indexed = outcome.status is Status.INDEXED
        title = titles.get(doc_id)
        emit_event(
            ARTICLE_INDEXED if indexed else ARTICLE_FAILED,
            resource={
                "prefect.resource.id": f"newsdesk.article.{doc_id}",
                "prefect.resource.name": (title or outcome.url)[:_TITLE_CHARS],
                INDEX_LABEL: settings.index_alias,
            },
            related=[
                {
                    **source_resource(settings, outcome.source or "unknown"),
                    "prefect.resource.role": "source",
                }
            ],
            payload={
                "url": outcome.url,
                "article_id": doc_id,
                "stage": outcome.stage,
                **({} if indexed else {"reason": outcome.reason}),
            },
        )
        count += 1
    return count


def recent_events(
    event: str,
    *,
    resource_id: str | None = None,
    labels: dict[str, str] | None = None,
    since: datetime | None = None,
    limit: int = 50,
) -> list[Any]:
    """Events as the Prefect server stored them, newest first."""
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter

    resource: dict[str, Any] = {}
    if resource_id:
        resource["id"] = [resource_id]
    if labels:
        resource["labels"] = labels
    event_filter = EventFilter.model_validate(
        {
            "occurred": {"since": since or datetime.now(UTC) - timedelta(days=7)},
            "event": {"name": [event]},
            "resource": resource or None,
        }
    )
    with get_client(sync_client=True) as client:
        page = client.read_events(event_filter, limit=limit)
    return list(page.events)
