"""The HTTP API (FastAPI; OpenAPI docs at /docs) and the app that also serves the web page.

`create_app(settings)` builds the app; `newsdesk api` runs it with uvicorn. Every endpoint is a
thin shell over `newsdesk.search`, `newsdesk.export` and `newsdesk.submissions`, the same code
the CLI calls. Read endpoints are open unless `NEWSDESK_READ_API_KEYS` is set; `POST /ingest`
needs a key from `NEWSDESK_API_KEYS` (see `newsdesk.api_common`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import httpx
from elasticsearch import ApiError, TransportError
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field, ValidationError

from newsdesk import export as export_mod
from newsdesk.api_common import (
    ApiSettings,
    AppContext,
    Multi,
    Sort,
    get_ctx,
    is_html_path,
    limit_error,
    require_read,
    require_write,
    search_request,
    validation_detail,
)
from newsdesk.errors import ElasticsearchUnavailable
from newsdesk.models import Article
from newsdesk.search import (
    ArticleBrief,
    CursorExpired,
    IndexMissing,
    InvalidSearch,
    QuoteResult,
    SearchRequest,
    SearchResult,
    cluster_copies,
    get_article,
    run_quote_search,
    run_search,
    similar_articles,
)
from newsdesk.settings import Settings, get_settings
from newsdesk.submissions import SubmitResult, check_urls, record_accepted

log = logging.getLogger(__name__)

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
PAGE_CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    b"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


class ArticleView(BaseModel):
    article: Article
    copies: list[ArticleBrief]
    similar: list[ArticleBrief]


class IngestRequest(BaseModel):
    urls: list[str] = Field(min_length=1)


class IngestResponse(SubmitResult):
    note: str


class HealthPart(BaseModel):
    reachable: bool | None
    detail: str | None = None


class EsHealth(HealthPart):
    version: str | None = None
    cluster_status: str | None = None
    index: str
    documents: int | None = None


class Health(BaseModel):
    status: Literal["ok", "degraded", "down"]
    elasticsearch: EsHealth
    prefect: HealthPart
    checked_at: datetime


def _security_headers(app: Callable[..., Any]) -> Callable[..., Any]:
    """Pure ASGI middleware (no body buffering, so exports stream): safe defaults on every
    response, and a strict Content-Security-Policy on the HTML pages."""

    async def middleware(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        strict = is_html_path(scope.get("path", ""))

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(SECURITY_HEADERS)
                if strict:
                    headers.append((b"content-security-policy", PAGE_CSP))
                message["headers"] = headers
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware


def _error(request: Request, status: int, detail: str) -> Response:
    if is_html_path(request.url.path):
        from newsdesk.web.pages import render_error

        return render_error(request, status, detail)
    return JSONResponse({"detail": detail}, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    async def invalid(request: Request, exc: Exception) -> Response:
        status = 410 if isinstance(exc, CursorExpired) else 400
        return _error(request, status, str(exc))

    async def missing(request: Request, exc: Exception) -> Response:
        return _error(request, 404, str(exc))

    async def unavailable(request: Request, exc: Exception) -> Response:
        log.warning("Elasticsearch unavailable: %s", type(exc).__name__)
        return _error(request, 503, "Elasticsearch is not reachable; try again shortly")

    async def bad_params(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: {e['msg']}"
            for e in exc.errors()
        )
        return _error(request, 422, detail)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if is_html_path(request.url.path):
            response = _error(request, exc.status_code, str(exc.detail))
            response.headers.update(exc.headers or {})
            return response
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    app.add_exception_handler(InvalidSearch, invalid)
    app.add_exception_handler(IndexMissing, missing)
    app.add_exception_handler(TransportError, unavailable)
    app.add_exception_handler(ElasticsearchUnavailable, unavailable)
    app.add_exception_handler(RequestValidationError, bad_params)
    app.add_exception_handler(HTTPException, http_error)


def quote_request(
    request: Request,
    speaker: Annotated[str | None, Query(description="Who said it (words of the name)")] = None,
    q: Annotated[str | None, Query(description='Words of the quote, or a "phrase"')] = None,
    source: Multi = [],  # noqa: B006
    language: Multi = [],  # noqa: B006
    since: Annotated[str | None, Query(description="YYYY-MM-DD")] = None,
    until: Annotated[str | None, Query(description="YYYY-MM-DD")] = None,
    sort: Sort = "relevance",
    limit: int = 10,
    collapse: bool = True,
    cursor: str | None = None,
) -> SearchRequest:
    api = get_ctx(request).api
    for name, value in (("q", q), ("speaker", speaker)):
        if value and len(value) > api.api_max_query_length:
            raise limit_error(f"length of {name}", len(value), api.api_max_query_length)
    if limit > api.api_max_page_size or limit < 1:
        raise limit_error("page size (limit)", limit, api.api_max_page_size)
    if not ((q or "").strip() or (speaker or "").strip()):
        raise HTTPException(status_code=400, detail="give a speaker, words of the quote, or both")
    try:
        return SearchRequest(
            quote_text=q or None,
            quote_speaker=speaker or None,
            source=source,
            language=language,
            since=since or None,  # type: ignore[arg-type]
            until=until or None,  # type: ignore[arg-type]
            sort=sort,
            limit=limit,
            collapse=collapse,
            cursor=cursor or None,
        )
    except ValidationError as exc:
        raise HTTPException(status_code=422, detail=validation_detail(exc)) from None


def _json(model: BaseModel) -> Response:
    """A model serialised once by pydantic (FastAPI would validate and encode it again)."""
    return Response(model.model_dump_json(), media_type="application/json")


def _es_health(ctx: AppContext) -> EsHealth:
    health = EsHealth(reachable=False, index=ctx.settings.index_alias)
    try:
        client = ctx.client()
        health.cluster_status = str(client.cluster.health()["status"])
        health.reachable = True
        nodes = client.nodes.info(node_id="_local", filter_path="nodes.*.version")
        health.version = next((str(n["version"]) for n in nodes["nodes"].values()), None)
        health.documents = int(
            client.options(ignore_status=404).count(index=ctx.settings.index_alias).get("count", 0)
        )
    except (TransportError, ApiError, ElasticsearchUnavailable) as exc:
        health.detail = f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"[:300]
    return health


def _prefect_health() -> HealthPart:
    url = os.environ.get("PREFECT_API_URL")
    if not url:
        return HealthPart(reachable=None, detail="PREFECT_API_URL is not set")
    try:
        resp = httpx.get(url.rstrip("/") + "/health", timeout=3.0)
    except httpx.HTTPError as exc:
        return HealthPart(reachable=False, detail=f"{type(exc).__name__}")
    if resp.status_code != 200:
        return HealthPart(reachable=False, detail=f"HTTP {resp.status_code}")
    return HealthPart(reachable=True)


def create_app(
    settings: Settings | None = None, api_settings: ApiSettings | None = None
) -> FastAPI:
    """The API and web page on the index of `settings` (default: from the environment)."""
    ctx = AppContext(settings=settings or get_settings(), api=api_settings or ApiSettings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        ctx.close()

    app = FastAPI(
        title="newsdesk",
        summary="Search news articles: who covered it, when, and what was said.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    _install_error_handlers(app)
    read = [Depends(require_read)]

    @app.get("/search", dependencies=read, tags=["search"], response_model=SearchResult)
    def search(req: Annotated[SearchRequest, Depends(search_request)]) -> Response:
        """Articles matching a query and filters, with facets, a timeline and a cursor."""
        return _json(run_search(ctx.client(), ctx.settings, req, pits=ctx.pits))

    @app.get("/articles/{article_id}", dependencies=read, tags=["search"])
    def article(article_id: str, similar: bool = True) -> ArticleView:
        """Every field of one article, its near-duplicate copies and similar articles."""
        client = ctx.client()
        found = get_article(client, ctx.settings, article_id)
        if found is None:
            raise HTTPException(status_code=404, detail=f"no article with id {article_id!r}")
        return ArticleView(
            article=found,
            copies=cluster_copies(client, ctx.settings, found),
            similar=similar_articles(client, ctx.settings, found) if similar else [],
        )

    @app.get("/quotes", dependencies=read, tags=["search"], response_model=QuoteResult)
    def quotes(req: Annotated[SearchRequest, Depends(quote_request)]) -> Response:
        """What did X say about Y: quotes by speaker and/or words, with their articles."""
        return _json(run_quote_search(ctx.client(), ctx.settings, req))

    @app.get("/export", dependencies=read, tags=["search"], response_class=StreamingResponse)
    def export(
        req: Annotated[SearchRequest, Depends(search_request)],
        format: Literal["csv", "jsonl"] = "csv",
        fields: Annotated[
            list[str], Query(description="Comma-separated; see newsdesk.export.FIELDS")
        ] = [],  # noqa: B006
        max_rows: Annotated[int | None, Query(ge=1, description="Export only the first N")] = None,
        collapse: bool = False,
    ) -> StreamingResponse:
        """Every result of a search (not one page), streamed as CSV or JSON Lines."""
        req = req.model_copy(update={"collapse": collapse, "cursor": None})
        chosen = export_mod.parse_fields(fields or None)
        client = ctx.client()
        export_mod.check_size(client, ctx.settings, req, ctx.api.api_max_export_rows, max_rows)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        return StreamingResponse(
            export_mod.stream_export(client, ctx.settings, req, chosen, format, max_rows),
            media_type=export_mod.MEDIA_TYPES[format],
            headers={
                "content-disposition": f'attachment; filename="newsdesk-{stamp}.{format}"',
                "cache-control": "no-store",
            },
        )

    @app.post(
        "/ingest",
        status_code=202,
        dependencies=[Depends(require_write)],
        tags=["ingest"],
    )
    def ingest(body: IngestRequest) -> IngestResponse:
        """Submit URLs to ingest; answers at once with what was accepted and refused (why)."""
        if len(body.urls) > ctx.api.api_max_submit_urls:
            raise limit_error("number of URLs", len(body.urls), ctx.api.api_max_submit_urls)
        result = check_urls(ctx.client(), ctx.settings, body.urls)
        if result.accepted:
            record_accepted(ctx.settings, result.accepted)
        return IngestResponse(
            **result.model_dump(),
            note="accepted URLs are queued for the ingestion pipeline",
        )

    @app.get("/health", tags=["health"])
    def health() -> JSONResponse:
        """Elasticsearch and Prefect reachability, and the article count."""
        es = _es_health(ctx)
        prefect = _prefect_health()
        status: Literal["ok", "degraded", "down"] = "ok"
        if not es.reachable:
            status = "down"
        elif prefect.reachable is False or es.cluster_status == "red":
            status = "degraded"
        body = Health(
            status=status, elasticsearch=es, prefect=prefect, checked_at=datetime.now(UTC)
        )
        return JSONResponse(
            body.model_dump(mode="json"), status_code=503 if status == "down" else 200
        )

    from newsdesk.web.pages import router as pages_router
    from newsdesk.web.pages import static_files

    app.include_router(pages_router, dependencies=read)
    app.mount("/static", static_files(), name="static")
    app.add_middleware(_security_headers)
    return app


@contextmanager
def serving(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run `app` with uvicorn in a background thread; yields its base URL. For tests, the
    benchmark and embedding; `newsdesk api` runs uvicorn in the foreground instead."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(app, log_level="warning", ws="none", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
