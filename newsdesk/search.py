"""The search core: a request model in, Elasticsearch request bodies out, and a response out.

The CLI, the HTTP API and the web page all call this module, so they never drift. Pure
functions (`build_query`, `cluster_check_query`, `parse_response`, `timeline_from_days`) shape
requests and responses; `run_search`, `run_quote_search`, `similar_articles`, `cluster_copies`
and `get_article` are the only parts that talk to Elasticsearch. User text is parsed by
`newsdesk.search_syntax` (never `query_string`).

Paging is a cursor over a point in time (PIT) with `search_after` on a total order (sort keys
plus the article id), so pages never skip or repeat while ingestion writes. Duplicate
collapsing cannot use Elasticsearch's `collapse` (it forbids `search_after` on other sort keys
and lumps every article without a cluster id into one group), so it is done here: an article
is shown when it is the first of its cluster in the sort order among the matches, which one
small aggregation per page checks (`cluster_check_query`). The check is exact, so collapsed
pages page as stably as uncollapsed ones.

Facets, the timeline and the story count go in a separate size-0 request (`facets_query`), sent
in parallel with the hits to the live index rather than the point in time: they do not page,
and a request without hits can be answered by the shard request cache when it is repeated
(every page of one search) until the index changes. A server passes a `PitPool`, so first pages
opened within a second share one point in time instead of opening one each.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import threading
import time
import zlib
from collections.abc import Generator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from elasticsearch import ApiError, BadRequestError, Elasticsearch, NotFoundError
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from newsdesk.errors import NewsdeskError
from newsdesk.models import Article
from newsdesk.search_syntax import (
    TEXT_FIELDS,
    InvalidSearch,
    ParsedQuery,
    parse_query,
    query_clauses,
)
from newsdesk.settings import Settings

__all__ = [
    "FACETS",
    "HIGHLIGHT_TAG",
    "TEXT_FIELDS",
    "CursorError",
    "IndexMissing",
    "InvalidSearch",
    "SearchHit",
    "SearchRequest",
    "SearchResult",
    "build_query",
    "get_article",
    "parse_response",
    "run_quote_search",
    "run_search",
]

HIGHLIGHT_TAG = ("<mark>", "</mark>")
PIT_KEEP_ALIVE = "5m"
MAX_FILTER_VALUES = 20
MAX_PAGE_LOOPS = 4
ENTITY_KINDS = {"person": "person", "org": "organization", "place": "place"}
FACETS = ("source", "author", "person", "org", "place", "language", "speaker")
FACET_LABELS = {
    "source": "Source",
    "author": "Author",
    "person": "People",
    "org": "Organisations",
    "place": "Places",
    "language": "Language",
    "speaker": "Quoted",
}
Interval = Literal["day", "week", "month", "year"]


class CursorError(InvalidSearch):
    """A cursor that is malformed or belongs to another query."""


class CursorExpired(CursorError):
    """The cursor's point in time has expired; the search has to start again."""


class IndexMissing(NewsdeskError):
    """No articles index yet."""


def _as_list(value: object) -> object:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple):
        return [v.strip() for v in value if isinstance(v, str) and v.strip()]
    return value


StrList = Annotated[
    list[Annotated[str, Field(max_length=256)]],
    BeforeValidator(_as_list),
    Field(max_length=MAX_FILTER_VALUES),
]


class SearchRequest(BaseModel):
    """One search. List filters on single-valued fields (source, language) are ORed; on
    multi-valued ones (author, person, …) every value must match. Filters are exact
    (case-insensitive) keyword matches, as clicked in a facet; the `query` prefixes
    (`author:`, `person:`…) match words and phrases instead."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(default="", max_length=2000)
    source: StrList = Field(default_factory=list)
    author: StrList = Field(default_factory=list)
    author_location: StrList = Field(default_factory=list)
    person: StrList = Field(default_factory=list)
    org: StrList = Field(default_factory=list)
    place: StrList = Field(default_factory=list)
    language: StrList = Field(default_factory=list)
    speaker: StrList = Field(default_factory=list)
    since: date | datetime | None = None
    until: date | datetime | None = None
    has_quotes: bool = False
    cluster: str | None = Field(default=None, max_length=128)
    quote_text: str | None = Field(default=None, max_length=2000)
    quote_speaker: str | None = Field(default=None, max_length=256)
    sort: Literal["relevance", "newest", "oldest"] = "relevance"
    limit: int = Field(default=10, ge=1, le=100)
    collapse: bool = True
    facets: bool = False
    facet_size: int = Field(default=10, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=8192)

    @property
    def parsed(self) -> ParsedQuery:
        return parse_query(self.query)

    @property
    def effective_sort(self) -> Literal["relevance", "newest", "oldest"]:
        """Relevance without words to score is date order."""
        if self.sort == "relevance" and not (self.parsed.has_text or self.quote_text):
            return "newest"
        return self.sort


class QuoteMatch(BaseModel):
    """A quote of a hit that matched a quote search; `html` is escaped, with `<mark>` added."""

    text: str
    html: str
    speaker: str | None = None
    verb: str | None = None
    paragraph: int = 0


class SearchHit(BaseModel):
    article: Article
    score: float | None = None
    highlights: list[str] = Field(default_factory=list)
    title_html: str | None = None
    copies: int = 0
    quotes: list[QuoteMatch] = Field(default_factory=list)


class ArticleBrief(BaseModel):
    """What a list of related articles shows."""

    id: str
    title: str
    url: str
    source: str
    published_at: datetime | None = None
    authors: list[str] = Field(default_factory=list)
    language: str | None = None
    cluster_id: str | None = None

    @classmethod
    def from_source(cls, src: dict[str, Any]) -> ArticleBrief:
        return cls(
            id=src["id"],
            title=src.get("title", ""),
            url=src.get("url", ""),
            source=src.get("source", "unknown"),
            published_at=src.get("published_at"),
            authors=[a["name"] for a in src.get("authors", []) if a.get("name")],
            language=src.get("language"),
            cluster_id=src.get("cluster_id"),
        )


BRIEF_SOURCE = ["id", "title", "url", "source", "published_at", "authors", "language", "cluster_id"]


class FacetValue(BaseModel):
    value: str
    count: int


class TimeBucket(BaseModel):
    start: date
    end: date
    count: int


class Timeline(BaseModel):
    interval: Interval
    buckets: list[TimeBucket]


class SearchResult(BaseModel):
    total: int
    hits: list[SearchHit]
    stories: int | None = None
    quote_total: int | None = None
    facets: dict[str, list[FacetValue]] = Field(default_factory=dict)
    timeline: Timeline | None = None
    page: int = 1
    next_cursor: str | None = None
    prev_cursor: str | None = None


# --- Request bodies (pure) ---------------------------------------------------------------


def _ci_term(field: str, value: str) -> dict[str, Any]:
    return {"term": {field: {"value": value, "case_insensitive": True}}}


def _entity_filter(kind: str, name: str) -> dict[str, Any]:
    return {
        "nested": {
            "path": "entities",
            "query": {
                "bool": {
                    "filter": [
                        {"term": {"entities.kind": kind}},
                        _ci_term("entities.name.keyword", name),
                    ]
                }
            },
        }
    }


def _date_bound(value: date | datetime, upper: bool) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return f"{value.isoformat()}||/d" if upper else value.isoformat()


def filters(req: SearchRequest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if req.source:
        out.append({"bool": {"should": [_ci_term("source", s) for s in req.source]}})
    if req.language:
        out.append({"bool": {"should": [_ci_term("language", s) for s in req.language]}})
    out.extend(_ci_term("authors.name.keyword", a) for a in req.author)
    out.extend(_ci_term("authors.location", a) for a in req.author_location)
    for param, kind in ENTITY_KINDS.items():
        out.extend(_entity_filter(kind, name) for name in getattr(req, param))
    out.extend(
        {"nested": {"path": "quotes", "query": _ci_term("quotes.speaker.keyword", s)}}
        for s in req.speaker
    )
    if req.has_quotes:
        out.append({"nested": {"path": "quotes", "query": {"exists": {"field": "quotes.text"}}}})
    if req.cluster:
        out.append({"term": {"cluster_id": req.cluster}})
    if req.since or req.until:
        bounds: dict[str, str] = {}
        if req.since:
            bounds["gte"] = _date_bound(req.since, upper=False)
        if req.until:
            bounds["lte"] = _date_bound(req.until, upper=True)
        out.append({"range": {"published_at": bounds}})
    return out


def _quote_clause(req: SearchRequest, inner_hits: bool) -> dict[str, Any] | None:
    parts: list[dict[str, Any]] = []
    text = (req.quote_text or "").strip()
    if text:
        if len(text) > 1 and text.startswith('"') and text.endswith('"'):
            parts.append({"match_phrase": {"quotes.text": text.strip('"')}})
        else:
            parts.append({"match": {"quotes.text": {"query": text, "operator": "and"}}})
    if req.quote_speaker and req.quote_speaker.strip():
        parts.append({"match_phrase": {"quotes.speaker": req.quote_speaker.strip()}})
    if not parts:
        return None
    clause: dict[str, Any] = {
        "path": "quotes",
        "query": {"bool": {"must": parts}},
        "score_mode": "max",
    }
    if inner_hits:
        clause["inner_hits"] = {
            "size": 10,
            "_source": True,
            "highlight": {
                "encoder": "html",
                "pre_tags": [HIGHLIGHT_TAG[0]],
                "post_tags": [HIGHLIGHT_TAG[1]],
                "fields": {"quotes.text": {"number_of_fragments": 0}},
            },
        }
    return {"nested": clause}


def query_clause(req: SearchRequest, *, inner_hits: bool = True) -> dict[str, Any]:
    """The `query` of a search: text terms, the quote clause and the filters."""
    must, must_not = query_clauses(req.parsed)
    quote = _quote_clause(req, inner_hits)
    if quote:
        must.append(quote)
    return {
        "bool": {
            "must": must or [{"match_all": {}}],
            "must_not": must_not,
            "filter": filters(req),
        }
    }


def sort_spec(req: SearchRequest) -> list[Any]:
    """A total order: the requested keys, then the article id as the tie-breaker."""
    newest = {"published_at": {"order": "desc", "missing": "_last"}}
    sort = req.effective_sort
    if sort == "relevance":
        return [{"_score": {"order": "desc"}}, newest, {"id": {"order": "asc"}}]
    if sort == "oldest":
        return [{"published_at": {"order": "asc", "missing": "_last"}}, {"id": {"order": "asc"}}]
    return [newest, {"id": {"order": "asc"}}]


def _nested_terms(path: str, field: str, size: int, kind: str | None = None) -> dict[str, Any]:
    terms = {
        "terms": {"field": field, "size": size, "order": {"articles": "desc"}},
        "aggs": {"articles": {"reverse_nested": {}}},
    }
    inner: dict[str, Any] = (
        {"filter": {"term": {"entities.kind": kind}}, "aggs": {"values": terms}} if kind else terms
    )
    return {"nested": {"path": path}, "aggs": {"values": inner}}


def facet_aggs(req: SearchRequest) -> dict[str, Any]:
    size = req.facet_size
    aggs: dict[str, Any] = {
        "source": {"terms": {"field": "source", "size": size}},
        "language": {"terms": {"field": "language", "size": size}},
        "author": {"terms": {"field": "authors.name.keyword", "size": size}},
        "speaker": _nested_terms("quotes", "quotes.speaker.keyword", size),
        "timeline": {
            "date_histogram": {
                "field": "published_at",
                "calendar_interval": "day",
                "min_doc_count": 1,
            }
        },
    }
    for param, kind in ENTITY_KINDS.items():
        aggs[param] = _nested_terms("entities", "entities.name.keyword", size, kind)
    if req.collapse:
        aggs["clusters"] = {"cardinality": {"field": "cluster_id", "precision_threshold": 10000}}
        aggs["unclustered"] = {"missing": {"field": "cluster_id"}}
    quote = _quote_clause(req, inner_hits=False)
    if quote:
        aggs["quote_total"] = {
            "nested": {"path": "quotes"},
            "aggs": {"matching": {"filter": quote["nested"]["query"]}},
        }
    return aggs


def _highlight() -> dict[str, Any]:
    return {
        "encoder": "html",
        "pre_tags": [HIGHLIGHT_TAG[0]],
        "post_tags": [HIGHLIGHT_TAG[1]],
        "fields": {
            "title": {"number_of_fragments": 0},
            "body": {"fragment_size": 180, "number_of_fragments": 3},
            "lede": {"fragment_size": 240, "number_of_fragments": 1},
        },
    }


def raw_size(req: SearchRequest) -> int:
    """Hits fetched per round trip: one more than a page (to know whether another page
    exists), or twice a page when duplicates are collapsed out of it."""
    return min(2 * req.limit, 200) if req.collapse else req.limit + 1


def build_query(
    req: SearchRequest,
    *,
    pit: str | None = None,
    after: list[Any] | None = None,
    size: int | None = None,
    aggs: bool | None = None,
) -> dict[str, Any]:
    """The search body for `req` (no index, no client). With `pit`, the body names the point
    in time instead of an index; `after` continues after a hit's sort values."""
    body: dict[str, Any] = {
        "query": query_clause(req),
        "size": size if size is not None else req.limit,
        "track_total_hits": True,
        "sort": sort_spec(req),
        "highlight": _highlight(),
    }
    if req.facets if aggs is None else aggs:
        body["aggs"] = facet_aggs(req)
    if pit:
        body["pit"] = {"id": pit, "keep_alive": PIT_KEEP_ALIVE}
    if after is not None:
        body["search_after"] = after
    return body


def cluster_check_query(req: SearchRequest, clusters: list[str], pit: str | None) -> dict[str, Any]:
    """For each of `clusters`: how many articles match `req`, and which comes first in the
    sort order (the one shown when collapsing)."""
    query = query_clause(req, inner_hits=False)
    if req.effective_sort == "relevance":
        query["bool"]["filter"] = [*query["bool"]["filter"], {"terms": {"cluster_id": clusters}}]
    else:  # date order needs no scores: all in filter context
        query = {"bool": {"filter": [query, {"terms": {"cluster_id": clusters}}]}}
    body: dict[str, Any] = {
        "size": 0,
        "track_total_hits": False,
        "query": query,
        "aggs": {
            "clusters": {
                "terms": {"field": "cluster_id", "size": len(clusters), "execution_hint": "map"},
                "aggs": {
                    "first": {"top_hits": {"size": 1, "_source": False, "sort": sort_spec(req)}}
                },
            }
        },
    }
    if pit:
        body["pit"] = {"id": pit, "keep_alive": PIT_KEEP_ALIVE}
    return body


# --- Responses (pure) --------------------------------------------------------------------

_MARK_SPLIT = re.compile(r"(</?mark>)")


def safe_fragment(fragment: str) -> str:
    """An Elasticsearch highlight fragment re-escaped so that `<mark>` pairs are its only
    tags, whatever the stored text or the encoder did."""
    out: list[str] = []
    open_ = False
    for part in _MARK_SPLIT.split(fragment):
        if part == HIGHLIGHT_TAG[0] and not open_:
            out.append(part)
            open_ = True
        elif part == HIGHLIGHT_TAG[1] and open_:
            out.append(part)
            open_ = False
        elif part not in HIGHLIGHT_TAG:
            out.append(html.escape(html.unescape(part), quote=True))
    if open_:
        out.append(HIGHLIGHT_TAG[1])
    return "".join(out)


def _facet_values(agg: dict[str, Any]) -> list[FacetValue]:
    while "buckets" not in agg:
        agg = agg["values"]
    return [
        FacetValue(value=str(b["key"]), count=int(b.get("articles", b)["doc_count"]))
        for b in agg["buckets"]
    ]


def choose_interval(start: date, end: date) -> Interval:
    days = (end - start).days
    if days <= 92:
        return "day"
    if days <= 2 * 366:
        return "week"
    if days <= 25 * 366:
        return "month"
    return "year"


def _bucket_start(day: date, interval: Interval) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    if interval == "year":
        return day.replace(month=1, day=1)
    return day


def _next_start(start: date, interval: Interval) -> date:
    if interval == "day":
        return start + timedelta(days=1)
    if interval == "week":
        return start + timedelta(days=7)
    if interval == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start.replace(year=start.year + 1)


def _as_date(value: date | datetime | None) -> date | None:
    return value.date() if isinstance(value, datetime) else value


def timeline_from_days(
    days: dict[date, int], since: date | None = None, until: date | None = None
) -> Timeline | None:
    """Daily counts rolled up into day, week, month or year buckets, the interval chosen from
    the range (the request's dates where given, else the data's), empty buckets included."""
    if not days and not (since and until):
        return None
    start = since or min(days)
    end = until or max(days)
    if end < start:
        return Timeline(interval="day", buckets=[])
    interval = choose_interval(start, end)
    if interval == "year" and end.year - start.year > 200 and days:
        start, end = max(start, min(days)), min(end, max(days))
    counts: dict[date, int] = {}
    for day, n in days.items():
        if start <= day <= end:
            key = _bucket_start(day, interval)
            counts[key] = counts.get(key, 0) + n
    buckets = []
    cursor = _bucket_start(start, interval)
    while cursor <= end:
        nxt = _next_start(cursor, interval)
        buckets.append(
            TimeBucket(start=cursor, end=nxt - timedelta(days=1), count=counts.get(cursor, 0))
        )
        cursor = nxt
    return Timeline(interval=interval, buckets=buckets)


def _quote_matches(hit: dict[str, Any]) -> list[QuoteMatch]:
    inner = hit.get("inner_hits", {}).get("quotes", {}).get("hits", {}).get("hits", [])
    out = []
    for q in inner:
        src = q.get("_source", {})
        marked = q.get("highlight", {}).get("quotes.text")
        text = str(src.get("text", ""))
        out.append(
            QuoteMatch(
                text=text,
                html=safe_fragment(marked[0]) if marked else html.escape(text),
                speaker=src.get("speaker"),
                verb=src.get("verb"),
                paragraph=int(src.get("paragraph", 0)),
            )
        )
    return out


def parse_hit(hit: dict[str, Any], copies: int = 0) -> SearchHit:
    highlight = hit.get("highlight", {})
    titles = highlight.get("title", [])
    fragments = highlight.get("body") or highlight.get("lede") or titles
    return SearchHit(
        article=Article.model_validate(hit["_source"]),
        score=hit.get("_score"),
        highlights=[safe_fragment(f) for f in fragments],
        title_html=safe_fragment(titles[0]) if titles else None,
        copies=copies,
        quotes=_quote_matches(hit),
    )


def parse_response(resp: dict[str, Any], req: SearchRequest | None = None) -> SearchResult:
    """Hits, facets, timeline and counts of one search response (no paging, no collapsing)."""
    aggs = resp.get("aggregations", {})
    result = SearchResult(
        total=int(resp["hits"]["total"]["value"]),
        hits=[parse_hit(h) for h in resp["hits"]["hits"]],
    )
    for name in FACETS:
        if name in aggs:
            result.facets[name] = _facet_values(aggs[name])
    if "timeline" in aggs:
        days = {
            datetime.fromtimestamp(b["key"] / 1000, tz=UTC).date(): int(b["doc_count"])
            for b in aggs["timeline"]["buckets"]
        }
        since = _as_date(req.since) if req else None
        until = _as_date(req.until) if req else None
        result.timeline = timeline_from_days(days, since, until)
    if "clusters" in aggs:
        result.stories = int(aggs["clusters"]["value"]) + int(aggs["unclustered"]["doc_count"])
    if "quote_total" in aggs:
        result.quote_total = int(aggs["quote_total"]["matching"]["doc_count"])
    return result


# --- Cursors -----------------------------------------------------------------------------


class _CursorState(BaseModel):
    v: Literal[1] = 1
    pit: str
    after: list[Any] | None
    history: list[list[Any] | None]
    key: str


def request_key(req: SearchRequest) -> str:
    """What a cursor is bound to: everything that decides which hits, in which order."""
    data = req.model_dump(mode="json", exclude={"cursor", "limit", "facets", "facet_size"})
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def encode_cursor(state: _CursorState) -> str:
    raw = zlib.compress(state.model_dump_json().encode(), 9)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, req: SearchRequest) -> _CursorState:
    try:
        raw = zlib.decompress(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        state = _CursorState.model_validate_json(raw)
    except (ValueError, zlib.error, ValidationError):
        raise CursorError("the cursor is not valid; start the search again") from None
    if state.key != request_key(req):
        raise CursorError("the cursor belongs to a different query or filters")
    return state


# --- Running searches --------------------------------------------------------------------


def open_pit(client: Elasticsearch, settings: Settings) -> str:
    try:
        resp = client.open_point_in_time(index=settings.index_alias, keep_alive=PIT_KEEP_ALIVE)
    except NotFoundError:
        raise IndexMissing(
            f"there is no index {settings.index_alias!r} yet: ingest some articles first"
        ) from None
    return str(resp["id"])


def close_pit(client: Elasticsearch, pit: str) -> None:
    client.options(ignore_status=404).close_point_in_time(id=pit)


def _cluster_firsts(
    client: Elasticsearch, req: SearchRequest, pit: str, hits: list[dict[str, Any]]
) -> dict[str, tuple[int, str]]:
    clusters = sorted({str(c) for h in hits if (c := h["_source"].get("cluster_id"))})
    if not clusters:
        return {}
    resp = client.search(body=cluster_check_query(req, clusters, pit))
    out: dict[str, tuple[int, str]] = {}
    for bucket in resp["aggregations"]["clusters"]["buckets"]:
        first = bucket["first"]["hits"]["hits"]
        out[str(bucket["key"])] = (int(bucket["doc_count"]), str(first[0]["_id"]) if first else "")
    return out


def _search(client: Elasticsearch, body: dict[str, Any], cursor_given: bool) -> dict[str, Any]:
    try:
        return dict(client.search(body=body).body)
    except NotFoundError as exc:
        if cursor_given:
            raise CursorExpired(
                "the search has expired (results are kept for 5 minutes); start it again"
            ) from None
        raise IndexMissing(str(exc.message)) from None
    except BadRequestError:
        if cursor_given:
            raise CursorError("the cursor is not valid; start the search again") from None
        raise


class PitPool:
    """Shares one point in time per index among first pages opened within `max_age` seconds.

    A server answering many searches saves a round trip per first page; results are at most
    `max_age` older than a fresh point in time, which is the index refresh interval (1 s)
    anyway. Pooled points in time are never closed early: cursors handed out may still use
    them, and each use extends their keep-alive.
    """

    def __init__(self, max_age: float = 1.0) -> None:
        self.max_age = max_age
        self._lock = threading.Lock()
        self._pits: dict[str, tuple[str, float]] = {}

    def get(self, client: Elasticsearch, settings: Settings) -> str:
        now = time.monotonic()
        with self._lock:
            entry = self._pits.get(settings.index_alias)
            if entry and now - entry[1] < self.max_age:
                return entry[0]
        pit = open_pit(client, settings)
        with self._lock:
            self._pits[settings.index_alias] = (pit, now)
        return pit

    def forget(self, settings: Settings) -> None:
        with self._lock:
            self._pits.pop(settings.index_alias, None)


def run_search(
    client: Elasticsearch,
    settings: Settings,
    req: SearchRequest,
    *,
    pits: PitPool | None = None,
) -> SearchResult:
    """One page of results, with a cursor to the next (and previous) page."""
    state = decode_cursor(req.cursor, req) if req.cursor else None
    if pits is not None and state is None:
        try:
            pit = pits.get(client, settings)
            return _run_search(client, settings, req, None, pit, pooled=True)
        except IndexMissing:
            pits.forget(settings)  # the pooled point in time is gone (node restart, deletion)
    pit = state.pit if state else open_pit(client, settings)
    return _run_search(client, settings, req, state, pit, pooled=False)


def facets_query(req: SearchRequest) -> dict[str, Any]:
    """Facets, timeline and counts alone: no hits, so the shard request cache can answer it
    again (paging through one search, or the same search from another user) until the index
    changes."""
    return {
        "size": 0,
        "track_total_hits": True,
        "query": query_clause(req, inner_hits=False),
        "aggs": facet_aggs(req),
    }


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _background() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="newsdesk-facets")
        return _POOL


def _run_search(
    client: Elasticsearch,
    settings: Settings,
    req: SearchRequest,
    state: _CursorState | None,
    pit: str,
    pooled: bool,
) -> SearchResult:
    """Hits over the point in time; facets in parallel, on the live index (they do not page)."""
    facets: Future[Any] | None = None
    if req.facets:
        facets = _background().submit(
            client.search, index=settings.index_alias, body=facets_query(req)
        )
    try:
        result = _collect_page(client, req, state, pit)
    except BaseException:
        if facets:
            facets.cancel()
        raise
    aggs = facets.result() if facets else None
    if aggs is not None:
        counted = parse_response(aggs.body, req)
        result.facets, result.timeline = counted.facets, counted.timeline
        result.stories, result.quote_total = counted.stories, counted.quote_total
    if not result.next_cursor and not result.prev_cursor and not pooled:
        close_pit(client, pit)
    return result


def _collect_page(
    client: Elasticsearch, req: SearchRequest, state: _CursorState | None, pit: str
) -> SearchResult:
    after = state.after if state else None
    history = state.history if state else []
    size = raw_size(req)
    picked: list[SearchHit] = []
    first: dict[str, Any] | None = None
    position = after
    more = False
    for _ in range(MAX_PAGE_LOOPS):
        body = build_query(req, pit=pit, after=position, size=size, aggs=False)
        resp = _search(client, body, cursor_given=state is not None)
        pit = str(resp.get("pit_id", pit))
        first = first or resp
        hits = resp["hits"]["hits"]
        firsts = _cluster_firsts(client, req, pit, hits) if req.collapse else {}
        shown = []
        for hit in hits:
            cluster = hit["_source"].get("cluster_id")
            count, first_id = firsts.get(str(cluster), (1, hit["_id"])) if cluster else (1, "")
            shown.append(not cluster or first_id == hit["_id"])
            hit["_copies"] = count - 1
        consumed = 0
        for hit, is_shown in zip(hits, shown, strict=True):
            if len(picked) == req.limit:
                break
            consumed += 1
            position = hit["sort"]
            if is_shown:
                picked.append(parse_hit(hit, copies=hit["_copies"]))
        rest_shown = any(shown[consumed:])
        full = len(hits) == size
        if len(picked) == req.limit:
            more = rest_shown or full
            break
        if not full:
            more = False
            break
        more = True
    assert first is not None
    result = parse_response({**first, "hits": {**first["hits"], "hits": []}}, req)
    result.hits = picked
    result.page = len(history) + 1
    key = request_key(req)
    if more and position is not None:
        result.next_cursor = encode_cursor(
            _CursorState(pit=pit, after=position, history=[*history, after], key=key)
        )
    if history:
        result.prev_cursor = encode_cursor(
            _CursorState(pit=pit, after=history[-1], history=history[:-1], key=key)
        )
    return result


class QuoteHit(BaseModel):
    """One quote found by a quote search, with the article it is in."""

    text: str
    html: str
    speaker: str | None
    verb: str | None
    article_id: str
    title: str
    source: str
    url: str
    published_at: datetime | None
    copies: int = 0


class QuoteResult(BaseModel):
    articles: int
    quotes: int | None
    hits: list[QuoteHit]
    page: int = 1
    next_cursor: str | None = None
    prev_cursor: str | None = None


def run_quote_search(client: Elasticsearch, settings: Settings, req: SearchRequest) -> QuoteResult:
    """ "What did X say about Y": the matching quotes of one page of articles."""
    if not (req.quote_text or req.quote_speaker):
        raise InvalidSearch("a quote search needs a speaker or words of the quote")
    req = req.model_copy(update={"facets": True, "facet_size": 1})
    result = run_search(client, settings, req)
    hits = [
        QuoteHit(
            text=q.text,
            html=q.html,
            speaker=q.speaker,
            verb=q.verb,
            article_id=h.article.id,
            title=h.article.title,
            source=h.article.source,
            url=h.article.url,
            published_at=h.article.published_at,
            copies=h.copies,
        )
        for h in result.hits
        for q in h.quotes
    ]
    return QuoteResult(
        articles=result.total,
        quotes=result.quote_total,
        hits=hits,
        page=result.page,
        next_cursor=result.next_cursor,
        prev_cursor=result.prev_cursor,
    )


def iter_all(
    client: Elasticsearch,
    settings: Settings,
    req: SearchRequest,
    *,
    source: list[str] | bool = True,
    batch: int = 2000,
) -> Generator[dict[str, Any], None, None]:
    """Every matching hit (`_id`, `_source`), in the request's order, over one point in time.
    With `req.collapse`, only the first article of each cluster."""
    pit = open_pit(client, settings)
    seen: set[str] = set()
    after: list[Any] | None = None
    try:
        while True:
            body: dict[str, Any] = {
                "query": query_clause(req, inner_hits=False),
                "size": batch,
                "sort": sort_spec(req),
                "track_total_hits": False,
                "_source": source,
                "pit": {"id": pit, "keep_alive": PIT_KEEP_ALIVE},
            }
            if after is not None:
                body["search_after"] = after
            resp = client.search(body=body)
            pit = str(resp.get("pit_id", pit))
            hits = resp["hits"]["hits"]
            for hit in hits:
                if req.collapse and (cluster := hit["_source"].get("cluster_id")):
                    if cluster in seen:
                        continue
                    seen.add(cluster)
                yield hit
            if len(hits) < batch:
                return
            after = hits[-1]["sort"]
    finally:
        close_pit(client, pit)


def count(client: Elasticsearch, settings: Settings, req: SearchRequest) -> int:
    try:
        resp = client.count(index=settings.index_alias, query=query_clause(req, inner_hits=False))
    except NotFoundError:
        raise IndexMissing(f"there is no index {settings.index_alias!r} yet") from None
    return int(resp["count"])


def get_article(client: Elasticsearch, settings: Settings, article_id: str) -> Article | None:
    resp = client.options(ignore_status=404).get(index=settings.index_alias, id=article_id)
    return Article.model_validate(resp["_source"]) if resp.get("found") else None


def similar_articles(
    client: Elasticsearch, settings: Settings, article: Article, limit: int = 5
) -> list[ArticleBrief]:
    """More-like-this on headline and text, other stories only (copies are listed apart)."""
    must_not: list[dict[str, Any]] = [{"ids": {"values": [article.id]}}]
    if article.cluster_id:
        must_not.append({"term": {"cluster_id": article.cluster_id}})
    body = {
        "size": limit,
        "_source": BRIEF_SOURCE,
        "query": {
            "bool": {
                "must": [
                    {
                        "more_like_this": {
                            "fields": ["title", "body"],
                            "like": [{"_index": settings.index_alias, "_id": article.id}],
                            "min_term_freq": 1,
                            "min_doc_freq": 2,
                            "max_query_terms": 30,
                            "minimum_should_match": "20%",
                        }
                    }
                ],
                "must_not": must_not,
            }
        },
    }
    try:
        resp = client.search(index=settings.index_alias, body=body)
    except ApiError:
        return []
    return [ArticleBrief.from_source(h["_source"]) for h in resp["hits"]["hits"]]


def cluster_copies(
    client: Elasticsearch, settings: Settings, article: Article, limit: int = 50
) -> list[ArticleBrief]:
    """The other articles of `article`'s near-duplicate cluster, oldest first."""
    if not article.cluster_id:
        return []
    resp = client.search(
        index=settings.index_alias,
        body={
            "size": limit,
            "_source": BRIEF_SOURCE,
            "query": {
                "bool": {
                    "filter": [{"term": {"cluster_id": article.cluster_id}}],
                    "must_not": [{"ids": {"values": [article.id]}}],
                }
            },
            "sort": [{"published_at": {"order": "asc", "missing": "_last"}}, {"id": "asc"}],
        },
    )
    return [ArticleBrief.from_source(h["_source"]) for h in resp["hits"]["hits"]]
