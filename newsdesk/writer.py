"""Bulk writes of articles with per-item results.

An article counts as indexed only when its bulk item succeeded. Items rejected by Elasticsearch
(mapping errors, oversized fields) come back with their reason instead of being swallowed; 429s
and 5xx items are retried with a logged backoff, then left to the dead-letter index's retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

from newsdesk.models import Article, Outcome, Status
from newsdesk.settings import Settings

log = logging.getLogger(__name__)


def _actions(articles: Iterable[Article], alias: str) -> Iterator[dict[str, Any]]:
    for article in articles:
        yield {
            "_op_type": "index",
            "_index": alias,
            "_id": article.id,
            "_source": article.model_dump(mode="json", exclude_none=True),
        }


def _reason(info: dict[str, Any]) -> str:
    item: dict[str, Any] = next(iter(info.values()), {}) if info else {}
    error = item.get("error", item)
    if isinstance(error, dict):
        reason = error.get("reason") or error.get("type") or str(error)
        cause = error.get("caused_by", {})
        if isinstance(cause, dict) and cause.get("reason"):
            reason = f"{reason}: {cause['reason']}"
        return f"{error.get('type', 'error')}: {reason}"
    return str(error)


_RETRY_STATUSES = frozenset({429, 502, 503, 504})


def _backoff(attempt: int) -> float:
    return float(min(30, 2 ** (attempt - 1)))


def write_articles(
    client: Elasticsearch, settings: Settings, articles: Iterable[Article]
) -> list[Outcome]:
    """Index `articles` under the alias; one Outcome per article, in input order.

    Items answered 429 (a full write queue) or 502/503/504 are sent again, only them, after a
    logged backoff of 1, 2, 4 … s, up to `bulk_max_retries` times; if they still fail their
    Outcome is transient, so the dead-letter index retries them on a later run instead of
    giving them up. Resending is harmless: the id is derived from the URL.
    """
    pending = list(articles)
    by_id = {a.id: a for a in pending}
    results: dict[str, Outcome] = {}
    todo = pending
    statuses: set[int] = set()
    for attempt in range(settings.bulk_max_retries + 1):
        if attempt:
            log.warning(
                "bulk: %d item(s) rejected with %s; backing off %.0f s before retry %d of %d",
                len(todo),
                "/".join(str(s) for s in sorted(statuses)),
                _backoff(attempt),
                attempt,
                settings.bulk_max_retries,
            )
            time.sleep(_backoff(attempt))
        again: list[Article] = []
        statuses = set()
        last = attempt == settings.bulk_max_retries
        for ok, info in streaming_bulk(
            client,
            _actions(todo, settings.index_alias),
            chunk_size=settings.bulk_chunk_size,
            max_retries=0,
            raise_on_error=False,
            raise_on_exception=False,
            yield_ok=True,
        ):
            item: dict[str, Any] = next(iter(info.values()), {})
            doc_id = str(item.get("_id", ""))
            article = by_id.get(doc_id)
            status = item.get("status")
            status = status if isinstance(status, int) else 0
            retryable = not ok and status in _RETRY_STATUSES
            if retryable and not last and article is not None:
                again.append(article)
                statuses.add(status)
                continue
            url = article.url if article else doc_id
            source = article.source if article else None
            if ok:
                results[doc_id] = Outcome(
                    url=url, status=Status.INDEXED, stage="index", article_id=doc_id, source=source
                )
                continue
            reason = _reason(info)
            log.warning("bulk item %s rejected: %s", doc_id, reason)
            results[doc_id] = Outcome(
                url=url,
                status=Status.FAILED,
                stage="index",
                reason=reason,
                article_id=doc_id,
                source=source,
                transient=retryable,
            )
        if not again:
            break
        todo = again
    return [results[a.id] for a in pending if a.id in results]
