"""Bulk writes of articles with per-item results.

An article counts as indexed only when its bulk item succeeded. Items rejected by Elasticsearch
(mapping errors, oversized fields) come back with their reason instead of being swallowed; 429s
are retried with backoff by the client's streaming bulk helper.
"""

from __future__ import annotations

import logging
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
    item = next(iter(info.values()), {}) if info else {}
    error = item.get("error", item)
    if isinstance(error, dict):
        reason = error.get("reason") or error.get("type") or str(error)
        cause = error.get("caused_by", {})
        if isinstance(cause, dict) and cause.get("reason"):
            reason = f"{reason}: {cause['reason']}"
        return f"{error.get('type', 'error')}: {reason}"
    return str(error)


def write_articles(
    client: Elasticsearch, settings: Settings, articles: Iterable[Article]
) -> list[Outcome]:
    """Index `articles` under the alias; one Outcome per article, in input order."""
    pending = list(articles)
    by_id = {a.id: a for a in pending}
    outcomes: list[Outcome] = []
    for ok, info in streaming_bulk(
        client,
        _actions(pending, settings.index_alias),
        chunk_size=settings.bulk_chunk_size,
        max_retries=settings.bulk_max_retries,
        initial_backoff=1,
        max_backoff=30,
        raise_on_error=False,
        raise_on_exception=False,
        yield_ok=True,
    ):
        item = next(iter(info.values()), {})
        doc_id = str(item.get("_id", ""))
        article = by_id.get(doc_id)
        url = article.url if article else doc_id
        if ok:
            outcomes.append(
                Outcome(
                    url=url,
                    status=Status.INDEXED,
                    stage="index",
                    article_id=doc_id,
                    source=article.source if article else None,
                )
            )
        else:
            reason = _reason(info)
            log.warning("bulk item %s rejected: %s", doc_id, reason)
            outcomes.append(
                Outcome(
                    url=url,
                    status=Status.FAILED,
                    stage="index",
                    reason=reason,
                    article_id=doc_id,
                    source=article.source if article else None,
                )
            )
    return outcomes
