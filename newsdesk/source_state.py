"""Per-source polling state, kept in Elasticsearch in an index of its own (`<alias>-sources`).

One document per source name: the validators of the last good response (ETag, Last-Modified,
a hash of the body), when it was polled and when that last worked, how many polls in a row
failed and since when, the adaptive interval and the next due time, and running counts. It is
read with `mget` (real-time, no refresh needed) and written once per poll, after the poll's new
entries are safely queued (see `newsdesk.polling` and `newsdesk.deadletter`).

`source_health` joins it with the articles index for `newsdesk sources`: every configured
source with its health (ok / failing since … / never polled), last new article and article
count (counted in the articles index by `source`, so articles from any route count).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

from elasticsearch import ConflictError, Elasticsearch, NotFoundError
from elasticsearch.helpers import bulk
from pydantic import BaseModel, ConfigDict, Field

from newsdesk import state_indices
from newsdesk.settings import Settings
from newsdesk.sources import SourceConfig

PollStatus = Literal["ok", "not_modified", "unchanged", "failed"]

_DATE = {"type": "date"}
_KEYWORD = {"type": "keyword"}
STATE_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "name": _KEYWORD,
        "url": _KEYWORD,
        "etag": {"type": "keyword", "index": False},
        "last_modified": {"type": "keyword", "index": False},
        "body_hash": {"type": "keyword", "index": False},
        "children": {"type": "object", "enabled": False},
        "last_poll_at": _DATE,
        "last_success_at": _DATE,
        "last_status": _KEYWORD,
        "last_error": {"type": "text"},
        "consecutive_failures": {"type": "integer"},
        "failing_since": _DATE,
        "next_due_at": _DATE,
        "interval_minutes": {"type": "float"},
        "hint_minutes": {"type": "float"},
        "polls": {"type": "long"},
        "new_entries": {"type": "long"},
        "articles": {"type": "long"},
        "last_new_article_at": _DATE,
    },
}


class Validators(BaseModel):
    """What makes a re-poll of one document cheap: HTTP validators and the body's hash."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None


class ChildState(Validators):
    """A child sitemap of a sitemap index, polled with its own validators."""

    url: str


class SourceState(Validators):
    model_config = ConfigDict(extra="ignore")

    name: str
    url: str | None = None
    children: list[ChildState] = Field(
        default_factory=list, description="The child sitemaps polled last, for a sitemap index."
    )
    last_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_status: PollStatus | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    failing_since: datetime | None = None
    next_due_at: datetime | None = None
    interval_minutes: float | None = None
    hint_minutes: float | None = None
    polls: int = 0
    new_entries: int = 0
    articles: int = 0
    last_new_article_at: datetime | None = None


def state_index(settings: Settings) -> str:
    return f"{settings.index_alias}-sources"


def ensure_state_index(client: Elasticsearch, settings: Settings) -> str:
    return state_indices.ensure_index(client, state_index(settings), STATE_MAPPING)


def load_states(
    client: Elasticsearch, settings: Settings, names: Iterable[str]
) -> dict[str, SourceState]:
    """The stored state of each named source that has one (real-time read)."""
    ids = list(dict.fromkeys(names))
    if not ids:
        return {}
    try:
        resp = client.mget(index=state_index(settings), ids=ids)
    except NotFoundError:
        return {}
    return {
        doc["_id"]: SourceState.model_validate(doc["_source"])
        for doc in resp["docs"]
        if doc.get("found")
    }


_COUNTED_ELSEWHERE = frozenset({"articles", "last_new_article_at"})


def save_states(client: Elasticsearch, settings: Settings, states: Iterable[SourceState]) -> None:
    """Write what polling knows of each source. Article counts are left alone: they are added
    by whichever run indexes the articles (`add_articles`), possibly at the same time."""
    index = ensure_state_index(client, settings)
    actions = [
        {
            "_op_type": "update",
            "_index": index,
            "_id": s.name,
            "doc": s.model_dump(mode="json", exclude=set(_COUNTED_ELSEWHERE)),
            "doc_as_upsert": True,
            "retry_on_conflict": 5,
        }
        for s in states
    ]
    if actions:
        bulk(client, actions)


def add_articles(
    client: Elasticsearch,
    settings: Settings,
    counts: dict[str, int],
    when: datetime | None = None,
    *,
    attempts: int = 50,
) -> None:
    """Add indexed-article counts to sources' states: read, then write only if nobody wrote
    in between (this distribution has no scripting), retrying with jitter when somebody did."""
    when = when or datetime.now(UTC)
    index = ensure_state_index(client, settings)
    for name, count in counts.items():
        if count <= 0:
            continue
        for attempt in range(attempts):
            try:
                doc = client.get(index=index, id=name)
            except NotFoundError:
                state = SourceState(name=name)
                guard: dict[str, Any] = {"op_type": "create"}
            else:
                state = SourceState.model_validate(doc["_source"])
                guard = {"if_seq_no": doc["_seq_no"], "if_primary_term": doc["_primary_term"]}
            state.articles += count
            state.last_new_article_at = max(filter(None, [state.last_new_article_at, when]))
            document = state.model_dump(mode="json", exclude_none=True)
            try:
                client.index(index=index, id=name, document=document, **guard)
                break
            except ConflictError:
                if attempt + 1 == attempts:
                    raise
                time.sleep(random.uniform(0, 0.01 * (attempt + 1)))


def health(state: SourceState | None) -> str:
    if state is None or state.last_poll_at is None:
        return "never polled"
    if state.consecutive_failures and state.failing_since is not None:
        since = state.failing_since.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return f"failing since {since}"
    return "ok"


class SourceHealth(BaseModel):
    """One row of `newsdesk sources`."""

    name: str
    url: str
    enabled: bool
    health: str
    last_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    next_due_at: datetime | None = None
    interval_minutes: float | None = None
    polls: int = 0
    new_entries: int = 0
    articles: int = 0
    last_new_article_at: datetime | None = None


def _article_stats(
    client: Elasticsearch, settings: Settings, names: list[str]
) -> dict[str, tuple[int, datetime | None]]:
    """Article count and newest `fetched_at` per source, from the articles index."""
    if not names:
        return {}
    try:
        resp = client.search(
            index=settings.index_alias,
            size=0,
            query={"terms": {"source": names}},
            aggs={
                "by_source": {
                    "terms": {"field": "source", "size": len(names)},
                    "aggs": {"newest": {"max": {"field": "fetched_at"}}},
                }
            },
        )
    except NotFoundError:
        return {}
    out: dict[str, tuple[int, datetime | None]] = {}
    for bucket in resp["aggregations"]["by_source"]["buckets"]:
        newest = bucket["newest"].get("value_as_string")
        when = datetime.fromisoformat(newest.replace("Z", "+00:00")) if newest else None
        out[bucket["key"]] = (int(bucket["doc_count"]), when)
    return out


def source_health(
    client: Elasticsearch, settings: Settings, sources: list[SourceConfig]
) -> list[SourceHealth]:
    """Every configured source with its health, in configuration order."""
    names = [s.name for s in sources]
    states = load_states(client, settings, names)
    stats = _article_stats(client, settings, names)
    rows = []
    for source in sources:
        state = states.get(source.name)
        count, newest = stats.get(source.name, (0, None))
        last_new = max(
            filter(None, [newest, state.last_new_article_at if state else None]), default=None
        )
        rows.append(
            SourceHealth(
                name=source.name,
                url=str(source.url),
                enabled=source.enabled,
                health=health(state),
                articles=count,
                last_new_article_at=last_new,
                **(
                    state.model_dump(
                        include={
                            "last_poll_at",
                            "last_success_at",
                            "last_error",
                            "consecutive_failures",
                            "next_due_at",
                            "interval_minutes",
                            "polls",
                            "new_entries",
                        }
                    )
                    if state
                    else {}
                ),
            )
        )
    return rows
