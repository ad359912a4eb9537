"""The dead-letter index (`<alias>-deadletter`): no discovered URL is ever silently dropped.

A document per discovered link that is not (yet) indexed, keyed by the link's article id:

* `pending` — new entries of a poll, written *before* the poll's validators are stored. If the
  run that should ingest them dies (killed, crashed, an event lost), a later run of the same
  source claims them (`claim_backlog`), so a 304 on the next poll cannot lose them.
* `retry` — the last attempt failed transiently (timeout, connection error, 408/429/5xx); the
  next run of its source tries again.
* `dead` — a permanent failure (404, not HTML, rejected by the index, …) or `max_attempts`
  transient ones. `newsdesk failures` lists them with reason, stage, attempts and times;
  `newsdesk failures retry` runs them through the stages again. Fresh links that are dead here
  are skipped with the dead-letter reason instead of being fetched on every poll.

A link that ends indexed or skipped (with its reason) has its document removed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from elasticsearch import Elasticsearch, NotFoundError
from elasticsearch.helpers import bulk
from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from newsdesk import state_indices
from newsdesk.models import Article, FeedEntry, Outcome, Status
from newsdesk.settings import Settings
from newsdesk.urls import article_id

LetterState = Literal["pending", "retry", "dead"]
MAX_CLAIM = 5000

LEDGER_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "id": {"type": "keyword"},
        "url": {"type": "keyword"},
        "source": {"type": "keyword"},
        "feed_url": {"type": "keyword"},
        "entry": {"type": "object", "enabled": False},
        "state": {"type": "keyword"},
        "stage": {"type": "keyword"},
        "reason": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 512}}},
        "transient": {"type": "boolean"},
        "attempts": {"type": "integer"},
        "queued_at": {"type": "date"},
        "first_failed_at": {"type": "date"},
        "last_failed_at": {"type": "date"},
    },
}


class RetrySettings(BaseSettings):
    """`NEWSDESK_RETRY_*` environment settings."""

    model_config = SettingsConfigDict(env_prefix="NEWSDESK_RETRY_", extra="ignore")

    max_attempts: int = Field(default=3, ge=1)
    pending_lease_minutes: float = Field(
        default=30.0,
        ge=0,
        description="A pending entry older than this is presumed orphaned and claimed again.",
    )


class DeadLetter(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    url: str
    source: str | None = None
    feed_url: str | None = None
    entry: FeedEntry
    state: LetterState
    stage: str | None = None
    reason: str | None = None
    transient: bool = False
    attempts: int = 0
    queued_at: datetime | None = None
    first_failed_at: datetime | None = None
    last_failed_at: datetime | None = None


def ledger_index(settings: Settings) -> str:
    return f"{settings.index_alias}-deadletter"


def ensure_ledger_index(client: Elasticsearch, settings: Settings) -> str:
    return state_indices.ensure_index(client, ledger_index(settings), LEDGER_MAPPING)


def _doc(letter: DeadLetter) -> dict[str, Any]:
    return letter.model_dump(mode="json", exclude_none=True)


def get_letters(
    client: Elasticsearch, settings: Settings, ids: Iterable[str]
) -> dict[str, DeadLetter]:
    """The documents of these ids that exist (real-time read)."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    try:
        resp = client.mget(index=ledger_index(settings), ids=wanted)
    except NotFoundError:
        return {}
    return {
        d["_id"]: DeadLetter.model_validate(d["_source"]) for d in resp["docs"] if d.get("found")
    }


def queue_pending(
    client: Elasticsearch,
    settings: Settings,
    entries: Iterable[FeedEntry],
    now: datetime | None = None,
) -> None:
    """Record new entries before their feed's state moves on; existing documents are kept
    (an entry already waiting to be retried keeps its attempt count)."""
    now = now or datetime.now(UTC)
    actions: list[dict[str, Any]] = []
    for entry in entries:
        key = article_id(entry.link)
        letter = DeadLetter(
            id=key,
            url=entry.link,
            source=entry.source,
            feed_url=entry.feed_url,
            entry=entry,
            state="pending",
            queued_at=now,
        )
        actions.append(
            {
                "_op_type": "create",
                "_index": ledger_index(settings),
                "_id": key,
                "_source": _doc(letter),
            }
        )
    if actions:
        ensure_ledger_index(client, settings)
        bulk(client, actions, ignore_status=(409,))


def claim_backlog(
    client: Elasticsearch,
    settings: Settings,
    sources: Iterable[str],
    *,
    lease: timedelta,
    now: datetime | None = None,
    exclude: Iterable[str] = (),
) -> list[FeedEntry]:
    """Entries of `sources` to try again: every `retry`, and every `pending` queued longer ago
    than `lease` (its run presumably died)."""
    names = list(sources)
    if not names:
        return []
    now = now or datetime.now(UTC)
    try:
        client.indices.refresh(index=ledger_index(settings))
        resp = client.search(
            index=ledger_index(settings),
            size=MAX_CLAIM,
            query={
                "bool": {
                    "filter": [{"terms": {"source": names}}],
                    "should": [
                        {"term": {"state": "retry"}},
                        {
                            "bool": {
                                "filter": [
                                    {"term": {"state": "pending"}},
                                    {"range": {"queued_at": {"lte": (now - lease).isoformat()}}},
                                ]
                            }
                        },
                    ],
                    "minimum_should_match": 1,
                }
            },
            sort=[{"queued_at": {"order": "asc", "missing": "_first"}}],
        )
    except NotFoundError:
        return []
    skip = set(exclude)
    return [
        FeedEntry.model_validate(hit["_source"]["entry"])
        for hit in resp["hits"]["hits"]
        if hit["_id"] not in skip
    ]


def forget(client: Elasticsearch, settings: Settings, ids: Iterable[str]) -> int:
    """Remove the documents of links that ended indexed or skipped; returns how many."""
    present = list(get_letters(client, settings, ids))
    if not present:
        return 0
    actions = [{"_op_type": "delete", "_index": ledger_index(settings), "_id": i} for i in present]
    bulk(client, actions, raise_on_error=False)
    return len(present)


def _key(outcome: Outcome, articles: dict[str, Article]) -> str:
    """The ledger id of the link an outcome is about: an index-stage outcome names the article
    (whose id may come from its canonical URL); the ledger is keyed by the discovered link."""
    article = articles.get(outcome.article_id or "") if outcome.stage == "index" else None
    return article_id(article.source_url if article else outcome.url)


def record_outcomes(
    client: Elasticsearch,
    settings: Settings,
    entries: Iterable[FeedEntry],
    outcomes: Iterable[Outcome],
    articles: Iterable[Article] = (),
    *,
    policy: RetrySettings | None = None,
    now: datetime | None = None,
) -> dict[str, LetterState]:
    """Move failures to `retry` or `dead` and forget links that ended well; returns the new
    state of each failed link's document."""
    policy = policy or RetrySettings()
    now = now or datetime.now(UTC)
    by_id = {a.id: a for a in articles}
    by_key = {article_id(e.link): e for e in entries}
    failures: dict[str, Outcome] = {}
    finished: set[str] = set()
    for outcome in outcomes:
        if outcome.stage == "poll":
            continue
        key = _key(outcome, by_id)
        if outcome.status is Status.FAILED:
            failures[key] = outcome
        else:
            finished.add(key)
            if outcome.article_id:
                finished.add(outcome.article_id)
    finished -= set(failures)
    before = get_letters(client, settings, failures)
    actions: list[dict[str, Any]] = []
    states: dict[str, LetterState] = {}
    for key, outcome in failures.items():
        prev = before.get(key)
        entry = by_key.get(key) or (prev.entry if prev else None)
        entry = entry or FeedEntry(link=outcome.url, source=outcome.source or "unknown")
        attempts = (prev.attempts if prev else 0) + 1
        dead = not outcome.transient or attempts >= policy.max_attempts
        states[key] = "dead" if dead else "retry"
        letter = DeadLetter(
            id=key,
            url=entry.link,
            source=entry.source,
            feed_url=entry.feed_url,
            entry=entry,
            state=states[key],
            stage=outcome.stage,
            reason=outcome.reason,
            transient=outcome.transient,
            attempts=attempts,
            queued_at=prev.queued_at if prev and prev.queued_at else now,
            first_failed_at=prev.first_failed_at if prev and prev.first_failed_at else now,
            last_failed_at=now,
        )
        actions.append(
            {
                "_op_type": "index",
                "_index": ledger_index(settings),
                "_id": key,
                "_source": _doc(letter),
            }
        )
    if actions:
        ensure_ledger_index(client, settings)
        bulk(client, actions)
    forget(client, settings, finished)
    return states


def dead_ids(
    client: Elasticsearch, settings: Settings, ids: Iterable[str]
) -> dict[str, DeadLetter]:
    """Which of these link ids are dead-lettered."""
    return {k: v for k, v in get_letters(client, settings, ids).items() if v.state == "dead"}


def list_letters(
    client: Elasticsearch,
    settings: Settings,
    *,
    states: Iterable[LetterState] = ("dead",),
    source: str | None = None,
    limit: int = 1000,
) -> list[DeadLetter]:
    """Dead letters newest failure first (optionally of one source, or other states too)."""
    filters: list[dict[str, Any]] = [{"terms": {"state": list(states)}}]
    if source:
        filters.append({"term": {"source": source}})
    try:
        client.indices.refresh(index=ledger_index(settings))
        resp = client.search(
            index=ledger_index(settings),
            size=limit,
            query={"bool": {"filter": filters}},
            sort=[{"last_failed_at": {"order": "desc", "missing": "_last"}}, {"id": "asc"}],
        )
    except NotFoundError:
        return []
    return [DeadLetter.model_validate(hit["_source"]) for hit in resp["hits"]["hits"]]
