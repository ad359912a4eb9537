"""Feed bytes in, feed entries out: RSS 0.9x/1.0/2.0, Atom, RDF, JSON Feed and sitemaps.

Hostile input is expected. feedparser 6.0.x re-inserts plain-text `<!ENTITY>` declarations from
the DOCTYPE and its loose parser expands them without limit (215 KB of feed became 1 GB of
text), so every DOCTYPE is removed before any parser sees the bytes, the input is capped, gzip is
inflated with a cap, and the whole parse runs under a time bound. feedparser only ever gets a
file object: given bytes it first tries them as a file *path*. Anything that goes wrong comes out
as `FeedError` naming the problem; unusable entries (no http(s) link) are counted and dropped.
"""

from __future__ import annotations

import calendar
import email.utils
import html
import io
import json
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar
from urllib.parse import urljoin, urlsplit

import feedparser
from lxml import etree
from pydantic import BaseModel, Field

from newsdesk.errors import FeedError
from newsdesk.models import FeedEntry

MAX_FEED_BYTES = 20 * 1024 * 1024
MAX_PARSE_SECONDS = 10.0
MAX_ENTRIES = 50_000
MAX_SUMMARY_CHARS = 4000
MAX_URL_CHARS = 4096

FeedKind = Literal["rss", "atom", "rdf", "json", "sitemap", "sitemap_index"]

_UPDATE_PERIOD_MINUTES = {
    "hourly": 60,
    "daily": 1440,
    "weekly": 10080,
    "monthly": 43200,
    "yearly": 525600,
}


class ParsedFeed(BaseModel):
    """Everything a poller needs from one feed document, not just its entries."""

    kind: FeedKind
    version: str | None = None
    title: str | None = None
    entries: list[FeedEntry] = Field(default_factory=list)
    child_feeds: list[str] = Field(
        default_factory=list, description="Sitemaps listed by a sitemap index, to poll next."
    )
    hub: str | None = Field(default=None, description='WebSub hub (`<link rel="hub">`).')
    self_url: str | None = Field(default=None, description="The feed's own canonical URL.")
    ttl_minutes: int | None = Field(default=None, description="RSS <ttl>.")
    update_period_minutes: int | None = Field(
        default=None, description="sy:updatePeriod divided by sy:updateFrequency."
    )
    skipped: int = Field(default=0, description="Entries dropped for want of an http(s) link.")


def parse_feed(content: bytes, *, feed_url: str, source: str) -> list[FeedEntry]:
    """The usable entries of a feed document; FeedError when the bytes are no usable feed."""
    return parse_feed_document(content, feed_url=feed_url, source=source).entries


def parse_feed_document(
    content: bytes,
    *,
    feed_url: str,
    source: str,
    max_bytes: int = MAX_FEED_BYTES,
    timeout: float = MAX_PARSE_SECONDS,
) -> ParsedFeed:
    """Detect the kind of feed document and parse it; FeedError is the only exception raised.

    `timeout` bounds the caller's wait; a parse that overruns is abandoned in its daemon thread
    (it cannot be killed, but the input cap bounds what it can still cost).
    """
    if not isinstance(content, bytes | bytearray | memoryview):
        raise FeedError(f"feed content must be bytes, not {type(content).__name__}", url=feed_url)
    data = bytes(content)
    try:
        return _run_bounded(lambda: _parse(data, feed_url, source, max_bytes), timeout)
    except FeedError as exc:
        exc.url = exc.url or feed_url
        raise
    except TimeoutError:
        raise FeedError(f"parsing took longer than {timeout:g} s", url=feed_url) from None
    except Exception as exc:
        raise FeedError(f"unparseable feed ({type(exc).__name__}: {exc})", url=feed_url) from None


_T = TypeVar("_T")


def _run_bounded(fn: Callable[[], _T], timeout: float) -> _T:
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=target, name="newsdesk-feed-parse", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError
    if "error" in outcome:
        raise outcome["error"]
    value: _T = outcome["value"]
    return value


def _parse(data: bytes, feed_url: str, source: str, max_bytes: int) -> ParsedFeed:
    if len(data) > max_bytes:
        raise FeedError(f"feed is {len(data)} bytes, over the cap of {max_bytes}")
    if data[:2] == b"\x1f\x8b":
        data = gunzip_capped(data, max_bytes)
    data = _to_ascii_compatible(data)
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise FeedError("empty document")
    if stripped[:1] in (b"{", b"["):
        return _parse_json_feed(stripped, feed_url, source)
    if stripped[:1] != b"<":
        return _parse_text_sitemap(stripped, feed_url, source)
    data = strip_doctype(data)
    root = _root_name(data)
    if root in ("urlset", "sitemapindex"):
        return _parse_sitemap(data, feed_url, source)
    if root == "html":
        raise FeedError("an HTML page, not a feed")
    return _parse_with_feedparser(data, feed_url, source)


def gunzip_capped(data: bytes, max_bytes: int) -> bytes:
    """Inflate gzip data, raising FeedError once the output passes `max_bytes`."""
    inflater = zlib.decompressobj(31)
    out = bytearray()
    pending = data
    while pending:
        try:
            out += inflater.decompress(pending, max_bytes + 1 - len(out))
        except zlib.error as exc:
            raise FeedError(f"corrupt gzip data: {exc}") from None
        if len(out) > max_bytes:
            raise FeedError(f"gzip data inflates past the cap of {max_bytes} bytes")
        if inflater.eof:
            pending = inflater.unused_data
            if not pending.startswith(b"\x1f\x8b"):
                break
            inflater = zlib.decompressobj(31)
        else:
            pending = inflater.unconsumed_tail
    return bytes(out)


_WIDE_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)
_WIDE_PATTERNS = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x4c\x6f\xa7\x94", "cp037"),
)
_XML_DECL_ENCODING = re.compile(rb"^(\s*<\?xml[^>]*?encoding\s*=\s*)([\"'])[^\"']*\2")


def _to_ascii_compatible(data: bytes) -> bytes:
    """Re-encode UTF-16/32 and EBCDIC documents as UTF-8 so markup can be found bytewise."""
    codec = None
    bom = b""
    for prefix, name in _WIDE_BOMS:
        if data.startswith(prefix):
            codec, bom = name, prefix
            break
    else:
        for prefix, name in _WIDE_PATTERNS:
            if data.startswith(prefix):
                codec = name
                break
    if codec is None:
        return data
    text = data[len(bom) :].decode(codec, errors="replace")
    encoded = text.encode("utf-8")
    return _XML_DECL_ENCODING.sub(rb"\1\2utf-8\2", encoded, count=1)


_DOCTYPE_START = re.compile(rb"<!\s*DOCTYPE", re.IGNORECASE)
_PROLOG_SKIP = re.compile(rb"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)
_DECLARATION = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)", re.IGNORECASE)


def strip_doctype(data: bytes) -> bytes:
    """Remove every DOCTYPE (internal subset included) from the prolog.

    Entity declarations are where expansion attacks live and no news feed needs one; after this,
    undeclared entity references are left as text by the parsers.
    """
    pos = 0
    out = []
    while True:
        skip = _PROLOG_SKIP.match(data, pos)
        if skip and skip.end() > pos:
            out.append(data[pos : skip.end()])
            pos = skip.end()
            continue
        start = _DOCTYPE_START.match(data, pos)
        if start is None:
            break
        pos = _declaration_end(data, start.end())
    rest = data[pos:]
    first_element = re.search(rb"<\w", rest)
    head = rest[: first_element.start()] if first_element else rest
    if _DECLARATION.search(b"".join(out) + head):
        raise FeedError("DTD declarations outside a well-formed DOCTYPE")
    return b"".join(out) + rest


def _declaration_end(data: bytes, pos: int) -> int:
    """Index just past the `>` closing a DOCTYPE whose body starts at `pos`."""
    depth = 0
    size = len(data)
    while pos < size:
        char = data[pos : pos + 1]
        if char in (b'"', b"'"):
            close = data.find(char, pos + 1)
            if close < 0:
                break
            pos = close + 1
            continue
        if data.startswith(b"<!--", pos):
            close = data.find(b"-->", pos + 4)
            if close < 0:
                break
            pos = close + 3
            continue
        if char == b"[":
            depth += 1
        elif char == b"]":
            depth = max(0, depth - 1)
        elif char == b">" and depth == 0:
            return pos + 1
        pos += 1
    raise FeedError("unterminated DOCTYPE declaration")


_ROOT = re.compile(rb"<([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")


def _root_name(data: bytes) -> str | None:
    pos = 0
    while True:
        skip = _PROLOG_SKIP.match(data, pos)
        if skip is None or skip.end() == pos:
            break
        pos = skip.end()
    if data.startswith(b"\xef\xbb\xbf", pos):
        return _root_name(data[pos + 3 :])
    match = _ROOT.match(data, pos)
    return match.group(2).decode("ascii").lower() if match else None


def _parse_with_feedparser(data: bytes, feed_url: str, source: str) -> ParsedFeed:
    parsed = feedparser.parse(
        io.BytesIO(data),
        response_headers={"content-location": feed_url},
        resolve_relative_uris=True,
        sanitize_html=True,
    )
    version = parsed.get("version") or None
    raw_entries = parsed.get("entries") or []
    if not version and not raw_entries:
        problem = parsed.get("bozo_exception")
        raise FeedError(f"not a recognisable feed{f' ({problem})' if problem else ''}")
    feed: Mapping[str, Any] = parsed.get("feed") or {}
    entries, skipped = _collect(
        (_feedparser_entry(item, feed_url, source) for item in raw_entries[:MAX_ENTRIES]),
        len(raw_entries),
    )
    hub = self_url = None
    for link in feed.get("links") or []:
        rel = link.get("rel")
        href = _usable_link(link.get("href"), feed_url)
        if rel == "hub" and hub is None:
            hub = href
        elif rel == "self" and self_url is None:
            self_url = href
    return ParsedFeed(
        kind=_kind(version),
        version=version,
        title=_text(feed.get("title")),
        entries=entries,
        hub=hub,
        self_url=self_url,
        ttl_minutes=_positive_int(feed.get("ttl")),
        update_period_minutes=_update_period(
            feed.get("sy_updateperiod"), feed.get("sy_updatefrequency")
        ),
        skipped=skipped,
    )


def _kind(version: str | None) -> FeedKind:
    if version and version.startswith("atom"):
        return "atom"
    if version in ("rss090", "rss10"):
        return "rdf"
    return "rss"


def _feedparser_entry(item: Mapping[str, Any], feed_url: str, source: str) -> FeedEntry | None:
    candidates: list[Any] = [item.get("link")]
    candidates += [
        link.get("href")
        for link in item.get("links") or []
        if link.get("rel") in (None, "alternate") and not link.get("type", "").startswith("image")
    ]
    if item.get("guidislink") or str(item.get("id", "")).startswith(("http://", "https://")):
        candidates.append(item.get("id"))
    link = next((u for u in (_usable_link(c, feed_url) for c in candidates) if u), None)
    if link is None:
        return None
    published = None
    for key in ("published", "updated", "created"):
        published = _from_struct(item.get(f"{key}_parsed")) or parse_date(item.get(key))
        if published:
            break
    return FeedEntry(
        link=link,
        title=_text(item.get("title")),
        published=published,
        summary=_summary(item.get("summary")),
        source=source,
        feed_url=feed_url,
    )


def _collect(candidates: Iterable[FeedEntry | None], total: int) -> tuple[list[FeedEntry], int]:
    """Usable entries without duplicate links, and how many of `total` were dropped."""
    seen: set[str] = set()
    entries = []
    for entry in candidates:
        if entry is None or entry.link in seen:
            continue
        seen.add(entry.link)
        entries.append(entry)
    return entries, total - len(entries)


def _usable_link(value: Any, base: str) -> str | None:
    """An absolute http(s) URL with a host, resolved against `base`, else None."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > MAX_URL_CHARS or any(c.isspace() for c in value):
        return None
    try:
        url = urljoin(base, value)
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def _text(value: Any) -> str | None:
    """Plain text from a possibly HTML-bearing string; None when nothing is left."""
    if not isinstance(value, str):
        return None
    text = _SPACE.sub(" ", html.unescape(_TAG.sub(" ", value))).strip()
    return text or None


def _summary(value: Any) -> str | None:
    text = _text(value)
    if text and len(text) > MAX_SUMMARY_CHARS:
        text = text[:MAX_SUMMARY_CHARS].rsplit(" ", 1)[0] + "…"
    return text


_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)


def _plausible(moment: datetime | None) -> datetime | None:
    """A UTC datetime within news history, else None (1970 epochs, year 9999 typos)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    if moment < _EARLIEST or moment > datetime.now(UTC) + timedelta(days=2):
        return None
    return moment


def _from_struct(value: Any) -> datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    try:
        moment = datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, OSError):
        return None
    return _plausible(moment)


def parse_date(value: Any) -> datetime | None:
    """An aware UTC datetime from RFC 822/1123, ISO 8601/RFC 3339 text, else None."""
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        return None
    text = value.strip()
    try:
        return _plausible(
            datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        )
    except ValueError:
        pass
    try:
        return _plausible(email.utils.parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError, OverflowError):
        pass
    parsed = feedparser.datetimes._parse_date(text)
    return _from_struct(parsed)


def _positive_int(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 10_000_000 else None


def _update_period(period: Any, frequency: Any) -> int | None:
    minutes = _UPDATE_PERIOD_MINUTES.get(str(period or "").strip().lower())
    if minutes is None:
        return None
    return max(1, minutes // (_positive_int(frequency) or 1))


def _parse_json_feed(data: bytes, feed_url: str, source: str) -> ParsedFeed:
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FeedError(f"invalid JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise FeedError("JSON that is not a JSON Feed (no `items` list)")
    version = document.get("version")
    if not (isinstance(version, str) and "jsonfeed.org" in version):
        raise FeedError(f"JSON Feed without a jsonfeed.org version ({version!r})")
    items = document["items"]
    entries, skipped = _collect(
        (_json_entry(item, feed_url, source) for item in items[:MAX_ENTRIES]), len(items)
    )
    hub = None
    for candidate in document.get("hubs") or []:
        if isinstance(candidate, dict) and str(candidate.get("type", "")).lower() == "websub":
            hub = _usable_link(candidate.get("url"), feed_url)
            break
    return ParsedFeed(
        kind="json",
        version=version,
        title=_text(document.get("title")),
        entries=entries,
        hub=hub,
        self_url=_usable_link(document.get("feed_url"), feed_url),
        skipped=skipped,
    )


def _json_entry(item: Any, feed_url: str, source: str) -> FeedEntry | None:
    if not isinstance(item, dict):
        return None
    link = _usable_link(item.get("url"), feed_url) or _usable_link(
        item.get("external_url"), feed_url
    )
    if link is None:
        return None
    summary = item.get("summary") or item.get("content_text") or item.get("content_html")
    return FeedEntry(
        link=link,
        title=_text(item.get("title")),
        published=parse_date(item.get("date_published")) or parse_date(item.get("date_modified")),
        summary=_summary(summary),
        source=source,
        feed_url=feed_url,
    )


def _parse_sitemap(data: bytes, feed_url: str, source: str) -> ParsedFeed:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=True
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise FeedError(f"malformed sitemap XML: {exc}") from None
    if root is None:
        raise FeedError("malformed sitemap XML: no root element")
    if etree.QName(root).localname == "sitemapindex":
        children = [
            link
            for link in (_usable_link(_child_text(node, "loc"), feed_url) for node in root)
            if link
        ]
        return ParsedFeed(kind="sitemap_index", child_feeds=list(dict.fromkeys(children)))
    nodes = [node for node in root if _local(node) == "url"]
    entries, skipped = _collect(
        (_sitemap_entry(node, feed_url, source) for node in nodes[:MAX_ENTRIES]), len(nodes)
    )
    return ParsedFeed(kind="sitemap", entries=entries, skipped=skipped)


def _local(node: Any) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _child_text(node: Any, name: str) -> str | None:
    for child in node:
        if _local(child) == name:
            return str(child.text or "").strip() or None
    return None


def _sitemap_entry(node: Any, feed_url: str, source: str) -> FeedEntry | None:
    link = _usable_link(_child_text(node, "loc"), feed_url)
    if link is None:
        return None
    title = published = None
    for child in node:
        if _local(child) == "news":
            title = _text(_child_text(child, "title"))
            published = parse_date(_child_text(child, "publication_date"))
    return FeedEntry(
        link=link,
        title=title,
        published=published or parse_date(_child_text(node, "lastmod")),
        source=source,
        feed_url=feed_url,
    )


def _parse_text_sitemap(data: bytes, feed_url: str, source: str) -> ParsedFeed:
    """A sitemap as plain text, one URL per line; anything else is not a feed."""
    text = data.decode("utf-8", errors="replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or not all(line.startswith(("http://", "https://")) for line in lines):
        raise FeedError("neither XML nor JSON nor a plain-text list of URLs")
    entries, skipped = _collect(
        (
            FeedEntry(link=link, source=source, feed_url=feed_url) if link else None
            for link in (_usable_link(line, feed_url) for line in lines[:MAX_ENTRIES])
        ),
        len(lines),
    )
    return ParsedFeed(kind="sitemap", entries=entries, skipped=skipped)
