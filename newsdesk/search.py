"""The search core: a request model in, an Elasticsearch request body out, and a response out.

Pure functions (`build_query`, `parse_response`) so the CLI, the API and the web page share one
behaviour; `run_search` is the only part that talks to Elasticsearch. User text goes through
`simple_query_string`, whose syntax errors degrade to plain words instead of failing; raw
`query_string` is never used.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from elasticsearch import Elasticsearch
from pydantic import BaseModel, Field

from newsdesk.models import Article
from newsdesk.settings import Settings

TEXT_FIELDS = ["title^3", "description^2", "lede", "body", "sections.heading^2"]
HIGHLIGHT_TAG = ("<mark>", "</mark>")


class SearchRequest(BaseModel):
    query: str = Field(default="", max_length=2000)
    source: str | None = None
    author: str | None = None
    since: date | datetime | None = None
    until: date | datetime | None = None
    language: str | None = None
    limit: int = Field(default=10, ge=1, le=100)
    sort: Literal["relevance", "newest"] = "relevance"


class SearchHit(BaseModel):
    article: Article
    score: float | None = None
    highlights: list[str] = Field(default_factory=list)


class SearchResult(BaseModel):
    total: int
    hits: list[SearchHit]


def _filters(req: SearchRequest) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = []
    if req.source:
        filters.append({"term": {"source": req.source}})
    if req.author:
        filters.append({"match_phrase": {"authors.name": req.author}})
    if req.language:
        filters.append({"term": {"language": req.language}})
    if req.since or req.until:
        bounds: dict[str, str] = {}
        if req.since:
            bounds["gte"] = req.since.isoformat()
        if req.until:
            bounds["lte"] = req.until.isoformat()
        filters.append({"range": {"published_at": bounds}})
    return filters


def build_query(req: SearchRequest) -> dict[str, Any]:
    """The request body for `req` (no index, no client)."""
    text = req.query.strip()
    must: list[dict[str, Any]] = []
    if text:
        must.append(
            {
                "simple_query_string": {
                    "query": text,
                    "fields": TEXT_FIELDS,
                    "default_operator": "and",
                    "flags": "AND|OR|NOT|PHRASE|PRECEDENCE|WHITESPACE|ESCAPE",
                    "lenient": True,
                }
            }
        )
    body: dict[str, Any] = {
        "query": {"bool": {"must": must or [{"match_all": {}}], "filter": _filters(req)}},
        "size": req.limit,
        "track_total_hits": True,
        "highlight": {
            "encoder": "html",
            "pre_tags": [HIGHLIGHT_TAG[0]],
            "post_tags": [HIGHLIGHT_TAG[1]],
            "fields": {
                "title": {"number_of_fragments": 0},
                "body": {"fragment_size": 180, "number_of_fragments": 3},
            },
        },
    }
    if req.sort == "newest" or not text:
        body["sort"] = [{"published_at": {"order": "desc", "missing": "_last"}}, "_score"]
    return body


def parse_response(resp: dict[str, Any]) -> SearchResult:
    hits = []
    for hit in resp["hits"]["hits"]:
        highlight = hit.get("highlight", {})
        fragments = highlight.get("body", []) or highlight.get("title", [])
        hits.append(
            SearchHit(
                article=Article.model_validate(hit["_source"]),
                score=hit.get("_score"),
                highlights=list(fragments),
            )
        )
    return SearchResult(total=int(resp["hits"]["total"]["value"]), hits=hits)


def run_search(client: Elasticsearch, settings: Settings, req: SearchRequest) -> SearchResult:
    resp = client.search(index=settings.index_alias, body=build_query(req))
    return parse_response(resp.body)


def get_article(client: Elasticsearch, settings: Settings, article_id: str) -> Article | None:
    resp = client.options(ignore_status=404).get(index=settings.index_alias, id=article_id)
    return Article.model_validate(resp["_source"]) if resp.get("found") else None
