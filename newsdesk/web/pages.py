"""The web page: server-rendered search, article and quote pages (Jinja2, no build step).

Every value from the index is autoescaped by Jinja; the only markup taken from a search
response is a highlight fragment, which `search.safe_fragment` has already reduced to escaped
text plus `<mark>` pairs. Links to stored URLs are emitted only for http(s) URLs. The app sends a
Content-Security-Policy without inline scripts or styles on these pages.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from pydantic import ValidationError

from newsdesk.api_common import get_ctx, search_request, validation_detail
from newsdesk.export import DEFAULT_FIELDS, FIELDS
from newsdesk.search import (
    FACET_LABELS,
    FACETS,
    SearchRequest,
    SearchResult,
    Timeline,
    cluster_copies,
    get_article,
    run_quote_search,
    run_search,
    similar_articles,
)
from newsdesk.search_syntax import FIELD_PREFIXES, syntax_hint

WEB_DIR = Path(__file__).resolve().parent
PAGE_SIZE = 20
FILTER_LABELS = {
    **FACET_LABELS,
    "author_location": "Author location",
    "since": "From",
    "until": "To",
    "has_quotes": "With quotes",
    "cluster": "Copies of",
    "collapse": "Duplicates",
}
SORTS = {"relevance": "Relevance", "newest": "Newest first", "oldest": "Oldest first"}

templates = Jinja2Templates(directory=WEB_DIR / "templates")
router = APIRouter(include_in_schema=False)


def static_files() -> StaticFiles:
    return StaticFiles(directory=WEB_DIR / "static")


def safe_href(url: str | None) -> str | None:
    """`url` when it is an absolute http(s) URL (no `javascript:` or `data:` links)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return url.strip()
    return None


def fmt_date(value: date | datetime | None, with_time: bool = False) -> str:
    if value is None:
        return "undated"
    if isinstance(value, datetime) and with_time:
        return value.strftime("%-d %b %Y, %H:%M %Z").strip().rstrip(",")
    return value.strftime("%-d %b %Y")


def fmt_num(value: int | None) -> str:
    return f"{value:,}" if value is not None else ""


def marked(fragment: str | None) -> Markup:
    """A highlight fragment that `search.safe_fragment` produced: escaped text and `<mark>`."""
    return Markup(fragment or "")  # noqa: S704


templates.env.filters.update(safe_href=safe_href, date=fmt_date, num=fmt_num, marked=marked)


class Params:
    """The page's query parameters, and links that change one thing about them."""

    def __init__(self, request: Request, path: str | None = None) -> None:
        self.path = path or request.url.path
        self.items = [
            (k, v) for k, v in request.query_params.multi_items() if k != "cursor" and v.strip()
        ]

    def _url(self, items: list[tuple[str, str]], path: str | None = None) -> str:
        query = urlencode(items)
        return (path or self.path) + (f"?{query}" if query else "")

    def get(self, key: str, default: str = "") -> str:
        return next((v for k, v in self.items if k == key), default)

    def has(self, key: str, value: str) -> bool:
        return (key, value) in self.items

    def toggle(self, key: str, value: str) -> str:
        if self.has(key, value):
            return self._url([kv for kv in self.items if kv != (key, value)])
        return self._url([*self.items, (key, value)])

    def set(self, **changes: str | None) -> str:
        items = [kv for kv in self.items if kv[0] not in changes]
        items += [(k, v) for k, v in changes.items() if v]
        return self._url(items)

    def clear(self) -> str:
        """Only the words and the sort order."""
        return self._url([kv for kv in self.items if kv[0] in ("q", "sort")])

    def page(self, cursor: str) -> str:
        return self._url([*self.items, ("cursor", cursor)])

    def export(self, fmt: str) -> str:
        skip = {"limit", "facets", "facet_size", "collapse", "sort_hint"}
        items = [kv for kv in self.items if kv[0] not in skip]
        items += [("format", fmt), ("fields", ",".join([*DEFAULT_FIELDS, "cluster_id"]))]
        return self._url(items, "/export")

    def chips(self) -> list[dict[str, str]]:
        out = []
        for key, value in self.items:
            if key in FILTER_LABELS:
                shown = "shown" if key == "collapse" else value
                if key == "has_quotes":
                    shown = "yes"
                out.append(
                    {"label": FILTER_LABELS[key], "value": shown, "remove": self.toggle(key, value)}
                )
        return out


def timeline_bars(timeline: Timeline | None, params: Params) -> dict[str, Any] | None:
    """Bar geometry for the inline SVG chart; each bar links to its date range."""
    if timeline is None or not timeline.buckets:
        return None
    height = 64.0
    peak = max(b.count for b in timeline.buckets) or 1
    step = 10.0
    bars = []
    for i, b in enumerate(timeline.buckets):
        h = max(1.5, height * b.count / peak) if b.count else 1.0
        label = (
            fmt_date(b.start)
            if timeline.interval == "day"
            else (f"{fmt_date(b.start)} – {fmt_date(b.end)}")
        )
        bars.append(
            {
                "x": i * step + 1,
                "y": height - h,
                "w": step - 2,
                "h": h,
                "count": b.count,
                "empty": b.count == 0,
                "title": f"{label}: {b.count:,} article{'s' if b.count != 1 else ''}",
                "href": params.set(since=b.start.isoformat(), until=b.end.isoformat()),
            }
        )
    return {
        "bars": bars,
        "width": len(bars) * step,
        "height": height,
        "interval": timeline.interval,
        "first": fmt_date(timeline.buckets[0].start),
        "last": fmt_date(timeline.buckets[-1].end),
        "peak": peak,
    }


def render_error(request: Request, status: int, detail: str) -> Response:
    return templates.TemplateResponse(
        request,
        "error.html",
        {"status": status, "detail": detail, "params": Params(request), "hint": syntax_hint()},
        status_code=status,
    )


def _page_context(request: Request, req: SearchRequest, result: SearchResult) -> dict[str, Any]:
    params = Params(request)
    facets = [
        {
            "name": name,
            "label": FACET_LABELS[name],
            "values": [
                {
                    "value": fv.value,
                    "count": fv.count,
                    "selected": params.has(name, fv.value),
                    "href": params.toggle(name, fv.value),
                }
                for fv in result.facets.get(name, [])
            ],
        }
        for name in FACETS
    ]
    return {
        "req": req,
        "result": result,
        "params": params,
        "facets": [f for f in facets if f["values"]],
        "chart": timeline_bars(result.timeline, params),
        "hint": syntax_hint(),
        "prefixes": FIELD_PREFIXES,
        "sorts": SORTS,
        "export_fields": FIELDS,
    }


@router.get("/", response_class=HTMLResponse)
def search_page(
    request: Request, req: Annotated[SearchRequest, Depends(search_request)]
) -> Response:
    ctx = get_ctx(request)
    if "limit" not in request.query_params:
        req = req.model_copy(update={"limit": PAGE_SIZE})
    req = req.model_copy(update={"facets": True})
    result = run_search(ctx.client(), ctx.settings, req, pits=ctx.pits)
    return templates.TemplateResponse(request, "search.html", _page_context(request, req, result))


@router.get("/view/{article_id}", response_class=HTMLResponse)
def article_page(request: Request, article_id: str) -> Response:
    ctx = get_ctx(request)
    client = ctx.client()
    article = get_article(client, ctx.settings, article_id)
    if article is None:
        raise HTTPException(status_code=404, detail=f"no article with id {article_id}")
    entities: dict[str, list[Any]] = {"person": [], "organization": [], "place": []}
    for entity in sorted(article.entities, key=lambda e: (-e.count, e.name)):
        entities[entity.kind].append(entity)
    fields = article.model_dump(
        mode="json", exclude={"title", "body", "sections", "quotes", "entities", "authors"}
    )
    return templates.TemplateResponse(
        request,
        "article.html",
        {
            "a": article,
            "entities": entities,
            "entity_params": {"person": "person", "organization": "org", "place": "place"},
            "copies": cluster_copies(client, ctx.settings, article),
            "similar": similar_articles(client, ctx.settings, article),
            "fields": {k: v for k, v in fields.items() if v not in (None, [], {}, "")},
            "params": Params(request),
            "hint": syntax_hint(),
            "prefixes": FIELD_PREFIXES,
            "sorts": SORTS,
            "back": request.headers.get("referer", ""),
        },
    )


@router.get("/quote-search", response_class=HTMLResponse)
def quote_page(request: Request) -> Response:
    ctx = get_ctx(request)
    params = Params(request, "/quote-search")
    speaker = request.query_params.get("speaker", "").strip()
    words = request.query_params.get("q", "").strip()
    result = None
    if speaker or words:
        for name, value in (("speaker", speaker), ("q", words)):
            if len(value) > ctx.api.api_max_query_length:
                raise HTTPException(status_code=400, detail=f"{name} is too long")
        try:
            req = SearchRequest(
                quote_speaker=speaker or None,
                quote_text=words or None,
                limit=PAGE_SIZE,
                cursor=request.query_params.get("cursor") or None,
            )
        except ValidationError as exc:
            raise HTTPException(status_code=422, detail=validation_detail(exc)) from None
        result = run_quote_search(ctx.client(), ctx.settings, req)
    return templates.TemplateResponse(
        request,
        "quotes.html",
        {"result": result, "speaker": speaker, "words": words, "params": params},
    )
