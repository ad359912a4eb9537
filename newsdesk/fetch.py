"""HTTP fetching that a hostile or broken server cannot stall, flood or redirect into our network.

Every request gets ONE deadline covering connect, headers and body: each socket read is given
only the time left (httpx's per-read timeout alone lets a server dripping a byte a second hold a
worker forever). Bodies are streamed and decoded here, with gzip/deflate inflated in bounded
steps, so the byte cap applies to decoded bytes and a gzip bomb stops at the cap. Redirects are
followed by hand so every hop passes the scheme check, the SSRF guard (`netguard`) and, when
a robots policy is set, robots.txt.
"""

from __future__ import annotations

import contextlib
import email.utils
import math
import random
import re
import time
import zlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx
from pydantic import BaseModel

from newsdesk import netguard
from newsdesk.errors import (
    BlockedURL,
    FetchConnectError,
    FetchTimeout,
    NotHTML,
    PermanentHTTPStatus,
    TooLarge,
    TooManyRedirects,
    TransientError,
    TransientHTTPStatus,
)
from newsdesk.robots import RobotsPolicy
from newsdesk.settings import Settings

DEFAULT_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
FEED_ACCEPT = (
    "application/rss+xml,application/atom+xml,application/feed+json,application/xml;q=0.9,"
    "text/xml;q=0.9,*/*;q=0.5"
)
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TRANSIENT_STATUSES = frozenset({408, 425, 429})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RETRY_AFTER_CAP = 60.0
_CHUNK = 64 * 1024

_deadline: ContextVar[float | None] = ContextVar("newsdesk_fetch_deadline", default=None)


class FetchedPage(BaseModel):
    """One response as the pipeline sees it: final URL, lower-cased headers, decoded body."""

    url: str
    requested_url: str
    status: int
    headers: dict[str, str]
    content: bytes
    content_type: str | None
    charset: str | None
    fetched_at: datetime
    elapsed: float
    not_modified: bool = False


def _remaining(kind: type[Exception]) -> float | None:
    deadline = _deadline.get()
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise kind("request deadline passed")
    return left


def _bounded(timeout: float | None, kind: type[Exception]) -> float | None:
    left = _remaining(kind)
    if left is None:
        return timeout
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """Gives every socket operation only the time left before the current request's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, _bounded(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host,
            port,
            _bounded(timeout, httpcore.ConnectTimeout),
            local_address=local_address,
            socket_options=socket_options,
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def guarded_transport(allow_hosts: list[str]) -> httpx.HTTPTransport:
    """An httpx transport whose connections pass the SSRF guard and the request deadline.

    httpx has no public hook for the network backend, so the pool is replaced after init.
    """
    transport = httpx.HTTPTransport(trust_env=False, retries=0)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=100,
        max_keepalive_connections=20,
        keepalive_expiry=5.0,
        network_backend=_DeadlineBackend(
            netguard.GuardedBackend(netguard.HostAllowList(allow_hosts))
        ),
    )
    return transport


class _NoCookies(DefaultCookiePolicy):
    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False

    def return_ok(self, cookie: Any, request: Any) -> bool:
        return False


class _Inflater:
    """Incremental gzip/deflate decoding that never produces more than it is asked for."""

    def __init__(self, encoding: str) -> None:
        self._raw_fallback = encoding == "deflate"
        self._wbits = 31 if encoding in ("gzip", "x-gzip") else 15
        self._obj = zlib.decompressobj(self._wbits)
        self._done = False

    def feed(self, data: bytes, limit: int) -> Iterator[bytes]:
        """Decode `data`, yielding pieces of at most `limit` bytes each."""
        while data and not self._done:
            try:
                out = self._obj.decompress(data, limit)
            except zlib.error:
                if not self._raw_fallback:
                    raise
                self._obj = zlib.decompressobj(-15)
                self._raw_fallback = False
                continue
            self._raw_fallback = False
            if self._obj.eof:
                data = self._obj.unused_data
                if self._wbits == 31 and data.startswith(b"\x1f\x8b"):
                    self._obj = zlib.decompressobj(self._wbits)
                else:
                    self._done = True
            else:
                data = self._obj.unconsumed_tail
            if out:
                yield out


def _decoders(content_encoding: str | None) -> list[_Inflater]:
    names = [e.strip().lower() for e in (content_encoding or "").split(",") if e.strip()]
    decoders = []
    for name in reversed(names):
        if name == "identity":
            continue
        if name not in ("gzip", "x-gzip", "deflate"):
            raise ValueError(name)
        decoders.append(_Inflater(name))
    return decoders


def _decode(chunks: Iterator[bytes], decoders: list[_Inflater], limit: int) -> Iterator[bytes]:
    """Push raw chunks through the decoder chain, each step bounded by `limit` bytes."""
    for decoder in decoders:
        chunks = _chain(chunks, decoder, limit)
    return chunks


def _chain(chunks: Iterator[bytes], decoder: _Inflater, limit: int) -> Iterator[bytes]:
    for chunk in chunks:
        yield from decoder.feed(chunk, limit)


def _raw_chunks(response: httpx.Response) -> Iterator[bytes]:
    try:
        yield from response.iter_raw(_CHUNK)
    except httpx.StreamConsumed:  # a transport that handed over a body already in memory
        yield response.content


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), else None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def _media_type(content_type: str | None) -> tuple[str | None, str | None]:
    if not content_type:
        return None, None
    mime, _, params = content_type.partition(";")
    charset = None
    match = re.search(r"charset\s*=\s*\"?([^\";\s]+)", params, re.IGNORECASE)
    if match:
        charset = match.group(1).strip().lower()
    return mime.strip().lower() or None, charset


_HTML_SNIFF = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|script|title|meta|div|p\b)",
    re.IGNORECASE | re.DOTALL,
)


def looks_like_html(content: bytes) -> bool:
    """Sniff the first bytes for an HTML document (used when no Content-Type was sent)."""
    return bool(_HTML_SNIFF.match(content[:1024]))


def require_html(page: FetchedPage) -> FetchedPage:
    """`page` itself when it is HTML or XHTML (sniffed when untyped), else NotHTML."""
    if page.content_type in HTML_TYPES:
        return page
    if page.content_type is None and looks_like_html(page.content):
        return page
    raise NotHTML(f"response is {page.content_type or 'untyped non-HTML'}", url=page.url)


class Fetcher:
    """A thread-safe HTTP client for feeds and pages; one per process is enough.

    The robots policy (`robots`, or a default `RobotsPolicy`) is consulted before every request
    and redirect hop except robots.txt itself; `respect_robots=False` turns it off for callers
    that check robots.txt themselves. Time spent waiting for robots.txt and per-host spacing
    does not count against the request deadline.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        robots: RobotsPolicy | None = None,
        respect_robots: bool = True,
    ) -> None:
        self.settings = settings
        self.allow = netguard.HostAllowList(settings.allow_hosts)
        self.robots = (robots or RobotsPolicy()) if respect_robots else None
        self._client = httpx.Client(
            transport=transport or guarded_transport(list(settings.allow_hosts)),
            follow_redirects=False,
            trust_env=False,
            cookies=CookieJar(policy=_NoCookies()),
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
    ) -> FetchedPage:
        """GET `url` following redirects; raises the `newsdesk.errors` fetch errors."""
        return self.fetch(url, etag=etag, last_modified=last_modified, accept=accept)

    def get_page(self, url: str) -> FetchedPage:
        """GET a web page; NotHTML unless the response is HTML or XHTML."""
        return require_html(self.get(url, accept=DEFAULT_ACCEPT))

    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
        max_bytes: int | None = None,
        truncate: bool = False,
        use_robots: bool = True,
    ) -> FetchedPage:
        """`get` with knobs for internal callers: a byte cap of its own, truncating at the cap
        instead of raising TooLarge (robots.txt), and skipping the robots policy."""
        start = time.monotonic()
        budget = self.settings.request_deadline
        requested = url
        headers = {"Accept": accept or DEFAULT_ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        cap = self.settings.max_bytes if max_bytes is None else max_bytes
        for _hop in range(self.settings.max_redirects + 1):
            netguard.check_url(url, self.allow)
            with self._slot(url, use_robots):
                hop_start = time.monotonic()
                outcome = self._one(
                    url, requested, headers, cap, truncate, start, hop_start + budget
                )
                budget -= time.monotonic() - hop_start
            if isinstance(outcome, FetchedPage):
                return outcome
            url = self._next_hop(url, outcome)
        raise TooManyRedirects(f"more than {self.settings.max_redirects} redirects", url=requested)

    @contextlib.contextmanager
    def _slot(self, url: str, use_robots: bool) -> Iterator[None]:
        if self.robots is None or not use_robots:
            yield
            return
        with self.robots.slot(url, self):
            yield

    def _next_hop(self, url: str, location: str) -> str:
        target = urljoin(url, location.strip())
        scheme = urlsplit(target).scheme.lower()
        if scheme not in netguard.ALLOWED_SCHEMES:
            raise BlockedURL(f"redirect to scheme {scheme!r} refused", url=target)
        return target

    def _one(
        self,
        url: str,
        requested: str,
        headers: dict[str, str],
        cap: int,
        truncate: bool,
        start: float,
        deadline: float,
    ) -> FetchedPage | str:
        """One request; returns the page, or the Location of a redirect."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise FetchTimeout("request deadline passed", url=url)
        timeout = httpx.Timeout(
            left, connect=min(self.settings.connect_timeout, left), pool=min(5.0, left)
        )
        token = _deadline.set(deadline)
        try:
            try:
                request = self._client.build_request("GET", url, headers=headers, timeout=timeout)
            except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
                raise BlockedURL(f"malformed URL: {exc}", url=url) from None
            try:
                response = self._client.send(request, stream=True)
            except httpx.TimeoutException as exc:
                phase = "connecting" if isinstance(exc, httpx.ConnectTimeout) else "waiting"
                raise FetchTimeout(
                    f"request deadline passed while {phase} "
                    f"(deadline {self.settings.request_deadline:g}s)",
                    url=url,
                ) from None
            except httpx.InvalidURL as exc:
                # httpx prepares `next_request` even when not following redirects
                raise BlockedURL(f"malformed redirect Location: {exc}", url=url) from None
            except httpx.HTTPError as exc:
                raise FetchConnectError(f"connection failed: {exc}", url=url) from None
            except BlockedURL as exc:
                raise BlockedURL(exc.reason, url=url) from None
            try:
                return self._handle(response, url, requested, cap, truncate, start, deadline)
            finally:
                response.close()
        finally:
            _deadline.reset(token)

    def _handle(
        self,
        response: httpx.Response,
        url: str,
        requested: str,
        cap: int,
        truncate: bool,
        start: float,
        deadline: float,
    ) -> FetchedPage | str:
        status = response.status_code
        if status in REDIRECT_STATUSES:
            location = response.headers.get("location")
            if not location:
                raise PermanentHTTPStatus(f"HTTP {status} without Location", url=url, status=status)
            return location
        if status in TRANSIENT_STATUSES or status >= 500:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            raise TransientHTTPStatus(
                f"HTTP {status}", url=url, status=status, retry_after=retry_after
            )
        if status >= 300 and status != 304:
            raise PermanentHTTPStatus(f"HTTP {status}", url=url, status=status)
        content = b"" if status == 304 else self._read_body(response, url, cap, truncate, deadline)
        mime, charset = _media_type(response.headers.get("content-type"))
        return FetchedPage(
            url=url,
            requested_url=requested,
            status=status,
            headers={k.lower(): v for k, v in response.headers.items()},
            content=content,
            content_type=mime,
            charset=charset,
            fetched_at=datetime.now(UTC),
            elapsed=time.monotonic() - start,
            not_modified=status == 304,
        )

    def _read_body(
        self, response: httpx.Response, url: str, cap: int, truncate: bool, deadline: float
    ) -> bytes:
        declared = response.headers.get("content-length", "").strip()
        encoding = response.headers.get("content-encoding")
        if declared.isdigit() and int(declared) > cap and not encoding and not truncate:
            raise TooLarge(f"Content-Length {declared} exceeds the cap of {cap} bytes", url=url)
        try:
            decoders = _decoders(encoding)
        except ValueError as exc:
            raise PermanentHTTPStatus(
                f"unsupported Content-Encoding {exc}", url=url, status=response.status_code
            ) from None
        pieces: list[bytes] = []
        size = 0
        try:
            for piece in _decode(_raw_chunks(response), decoders, _CHUNK):
                if time.monotonic() > deadline:
                    raise FetchTimeout("request deadline passed while reading the body", url=url)
                pieces.append(piece)
                size += len(piece)
                if size > cap:
                    if truncate:
                        pieces[-1] = piece[: len(piece) - (size - cap)]
                        break
                    raise TooLarge(f"body exceeds the cap of {cap} bytes", url=url)
        except httpx.TimeoutException:
            raise FetchTimeout("request deadline passed while reading the body", url=url) from None
        except httpx.TransportError as exc:
            raise FetchConnectError(f"connection broke mid-body: {exc}", url=url) from None
        except zlib.error as exc:
            raise FetchConnectError(f"corrupt {encoding} body: {exc}", url=url) from None
        return b"".join(pieces)


def fetch_with_retries(
    fetcher: Fetcher,
    url: str,
    *,
    attempts: int = 3,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    retry_after_cap: float = RETRY_AFTER_CAP,
    sleep: Callable[[float], None] = time.sleep,
    **get_kwargs: Any,
) -> FetchedPage:
    """`fetcher.get` retried on transient errors only, with full-jitter exponential backoff.

    A Retry-After is waited out in full; one longer than `retry_after_cap` is not worth holding
    a worker for, so the error is raised at once for the caller to reschedule.
    """
    for attempt in range(1, attempts + 1):
        try:
            return fetcher.get(url, **get_kwargs)
        except TransientError as exc:
            if attempt >= attempts:
                raise
            delay = random.uniform(0, min(max_delay, base_delay * 2 ** (attempt - 1)))
            retry_after = exc.retry_after if isinstance(exc, TransientHTTPStatus) else None
            if retry_after is not None:
                if retry_after > retry_after_cap:
                    raise
                delay = max(delay, retry_after)
            sleep(delay)
    raise AssertionError("unreachable")
