"""What the JSON API (`newsdesk.api`) and the web pages (`newsdesk.web.pages`) share: API
settings and keys, request limits, the Elasticsearch client, and the search parameters.

Settings (environment, prefix `NEWSDESK_`):

* `NEWSDESK_API_KEYS`: comma-separated keys for write endpoints (`POST /ingest`). With none
  set, write endpoints are refused (403): nothing is writable by accident.
* `NEWSDESK_READ_API_KEYS`: comma-separated keys; when set, read endpoints and pages need one of
  these (or a write key). Unset means reading is open.
* `NEWSDESK_API_MAX_PAGE_SIZE`, `_MAX_EXPORT_ROWS`, `_MAX_QUERY_LENGTH`, `_MAX_FACET_SIZE`,
  `_MAX_SUBMIT_URLS`: request limits; a request beyond one gets a 400 that names it.

A key is sent as `X-API-Key: KEY`, `Authorization: Bearer KEY`, or as the password of HTTP
Basic auth (what a browser prompts for). Keys are compared in constant time and never logged.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
from dataclasses import dataclass, field
from typing import Annotated, Literal

from elasticsearch import Elasticsearch
from fastapi import HTTPException, Query, Request
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from newsdesk.search import PitPool, SearchRequest
from newsdesk.settings import EnvSettings, Settings

HTML_PATHS = ("/", "/view/", "/quote-search")


class ApiSettings(EnvSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSDESK_", extra="ignore")

    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    read_api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    api_max_page_size: int = 100
    api_max_export_rows: int = 100_000
    api_max_query_length: int = 500
    api_max_facet_size: int = 50
    api_max_submit_urls: int = 100

    @field_validator("api_keys", "read_api_keys", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    @property
    def read_protected(self) -> bool:
        return bool(self.read_api_keys)


@dataclass
class AppContext:
    """Per-app state: settings and one lazily created, thread-safe Elasticsearch client."""

    settings: Settings
    api: ApiSettings
    pits: PitPool = field(default_factory=PitPool)
    _client: Elasticsearch | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self) -> Elasticsearch:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    from newsdesk.es_client import connect

                    self._client = connect(self.settings)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def is_html_path(path: str) -> bool:
    return path == "/" or path.startswith(HTML_PATHS[1:])


def presented_key(request: Request) -> str | None:
    """The key a request carries, from X-API-Key, Bearer or Basic auth."""
    header = request.headers.get("x-api-key")
    if header:
        return header
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


def key_matches(presented: str | None, keys: list[SecretStr]) -> bool:
    """Constant-time comparison against every key (no early exit on a match)."""
    if not presented:
        return False
    given = presented.encode("utf-8")
    found = False
    for key in keys:
        found |= hmac.compare_digest(given, key.get_secret_value().encode("utf-8"))
    return found


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=401, detail=detail, headers={"WWW-Authenticate": 'Basic realm="newsdesk"'}
    )


def require_read(request: Request) -> None:
    api = get_ctx(request).api
    if not api.read_protected:
        return
    key = presented_key(request)
    if not key_matches(key, [*api.read_api_keys, *api.api_keys]):
        raise _unauthorized("reading needs an API key" if key is None else "API key not accepted")


def require_write(request: Request) -> None:
    api = get_ctx(request).api
    if not api.api_keys:
        raise HTTPException(
            status_code=403,
            detail="write endpoints are disabled: no API keys are configured (NEWSDESK_API_KEYS)",
        )
    key = presented_key(request)
    if not key_matches(key, api.api_keys):
        raise _unauthorized(
            "this endpoint needs an API key" if key is None else "API key not accepted"
        )


def limit_error(what: str, value: int, maximum: int) -> HTTPException:
    return HTTPException(status_code=400, detail=f"{what} is {value}; the maximum is {maximum}")


def validation_detail(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'request'}: {err['msg']}" for err in exc.errors()
    )


def _blank(value: str | None) -> str | None:
    return value if value and value.strip() else None


Sort = Literal["relevance", "newest", "oldest"]
Multi = Annotated[list[str], Query()]


def search_request(
    request: Request,
    q: Annotated[str, Query(description='Words, "phrases", OR, -exclusions, field:value')] = "",
    source: Multi = [],  # noqa: B006  (FastAPI copies defaults per request)
    author: Multi = [],  # noqa: B006
    author_location: Multi = [],  # noqa: B006
    person: Multi = [],  # noqa: B006
    org: Multi = [],  # noqa: B006
    place: Multi = [],  # noqa: B006
    language: Multi = [],  # noqa: B006
    speaker: Multi = [],  # noqa: B006
    since: Annotated[str | None, Query(description="Published on or after (YYYY-MM-DD)")] = None,
    until: Annotated[str | None, Query(description="Published on or before (YYYY-MM-DD)")] = None,
    has_quotes: bool = False,
    cluster: Annotated[str | None, Query(description="Only this near-duplicate cluster")] = None,
    sort: Sort = "relevance",
    limit: int = 10,
    collapse: Annotated[bool, Query(description="One article per duplicate cluster")] = True,
    facets: bool = True,
    facet_size: int = 10,
    cursor: Annotated[str | None, Query(description="next_cursor/prev_cursor of a page")] = None,
) -> SearchRequest:
    """The search parameters of a request, checked against the API limits."""
    api = get_ctx(request).api
    if len(q) > api.api_max_query_length:
        raise limit_error("query length", len(q), api.api_max_query_length)
    if limit > api.api_max_page_size or limit < 1:
        raise limit_error("page size (limit)", limit, api.api_max_page_size)
    if facet_size > api.api_max_facet_size or facet_size < 1:
        raise limit_error("facet_size", facet_size, api.api_max_facet_size)
    try:
        return SearchRequest(
            query=q,
            source=source,
            author=author,
            author_location=author_location,
            person=person,
            org=org,
            place=place,
            language=language,
            speaker=speaker,
            since=_blank(since),  # type: ignore[arg-type]
            until=_blank(until),  # type: ignore[arg-type]
            has_quotes=has_quotes,
            cluster=_blank(cluster),
            sort=sort,
            limit=limit,
            collapse=collapse,
            facets=facets,
            facet_size=facet_size,
            cursor=_blank(cursor),
        )
    except ValidationError as exc:
        raise HTTPException(status_code=422, detail=validation_detail(exc)) from None
