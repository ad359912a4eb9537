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
MAX_DEPTH = 1000
MAX_SUMMARY_CHARS = 4000
MAX_TITLE_CHARS = 1000
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
    text = decode_document(data)
    head = text.lstrip("\ufeff \t\r\n")
    if not head:
        raise FeedError("empty document")
    if head[0] in "{[":
        return _parse_json_feed(head, feed_url, source)
    if head[0] != "<":
        return _parse_text_sitemap(head, feed_url, source)
    text = strip_doctype(head)
    check_depth(text, MAX_DEPTH)
    root = _root_name(text)
    xml = _XML_DECL_ENCODING.sub(r"\1\2utf-8\2", text, count=1).encode("utf-8")
    if root in ("urlset", "sitemapindex"):
        return _parse_sitemap(xml, feed_url, source)
    if root == "html":
        raise FeedError("an HTML page, not a feed")
    return _parse_with_feedparser(xml, feed_url, source)


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


_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)
_PATTERNS = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x4c\x6f\xa7\x94", "cp037"),
)
_DECLARED_ENCODING = re.compile(
    rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]{1,40})[\"']"
)
_XML_DECL_ENCODING = re.compile(r"^(\s*<\?xml[^>]*?encoding\s*=\s*)([\"'])[^\"']*\2")


def decode_document(data: bytes) -> str:
    """The document as text, decoded by BOM, byte pattern, declared encoding, UTF-8, then
    windows-1252.

    Markup is only trustworthy in decoded text: UTF-16 hides `<!ENTITY` from a byte search and a
    UTF-7 declaration can spell it `+ADw-!ENTITY`. A declared encoding is honoured only if it
    spells ASCII markup as ASCII (the declaration itself was just read as ASCII).
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(codec, errors="replace")
    for pattern, codec in _PATTERNS:
        if data.startswith(pattern):
            return data.decode(codec, errors="replace")
    declared = _DECLARED_ENCODING.match(data)
    candidates = [declared.group(1).decode("ascii")] if declared else []
    for codec in [*candidates, "utf-8"]:
        try:
            if "<?xml =\"'>".encode(codec) != b"<?xml =\"'>":
                continue
            return data.decode(codec)
        except (LookupError, UnicodeError):
            continue
    return data.decode("windows-1252", errors="replace")


_DOCTYPE_START = re.compile(r"<!\s*DOCTYPE", re.IGNORECASE)
_PROLOG_SPACE = re.compile(r"\s+|<\?.*?\?>", re.DOTALL)
_PROLOG_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_DECLARATION = re.compile(r"<!\s*(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)", re.IGNORECASE)
_FIRST_ELEMENT = re.compile(r"<\w")


def strip_doctype(text: str) -> str:
    """Remove every DOCTYPE (internal subset included) and comment from the prolog.

    Entity declarations are where expansion attacks live and no news feed needs one; after this,
    undeclared entity references are left as text by the parsers. Prolog comments go too:
    feedparser's own DOCTYPE handling is regex-based and would find declarations inside them.
    """
    pos = 0
    kept = []
    while True:
        space = _PROLOG_SPACE.match(text, pos)
        if space and space.end() > pos:
            kept.append(text[pos : space.end()])
            pos = space.end()
            continue
        comment = _PROLOG_COMMENT.match(text, pos)
        if comment:
            pos = comment.end()
            continue
        start = _DOCTYPE_START.match(text, pos)
        if start is None:
            break
        pos = _declaration_end(text, start.end())
    rest = text[pos:]
    first_element = _FIRST_ELEMENT.search(rest)
    head = rest[: first_element.start()] if first_element else rest
    prolog = "".join(kept)
    if _DECLARATION.search(prolog + head):
        raise FeedError("DTD declarations outside a well-formed DOCTYPE")
    return prolog + rest


def _declaration_end(text: str, pos: int) -> int:
    """Index just past the `>` closing a DOCTYPE whose body starts at `pos`."""
    depth = 0
    size = len(text)
    while pos < size:
        char = text[pos]
        if char in "\"'":
            close = text.find(char, pos + 1)
            if close < 0:
                break
            pos = close + 1
            continue
        if text.startswith("<!--", pos):
            close = text.find("-->", pos + 4)
            if close < 0:
                break
            pos = close + 3
            continue
        if char == "[":
            depth += 1
        elif char == "]":
            depth = max(0, depth - 1)
        elif char == ">" and depth == 0:
            return pos + 1
        pos += 1
    raise FeedError("unterminated DOCTYPE declaration")


_MARKUP = re.compile(
    r"<!\[CDATA\[.*?\]\]>|<!--.*?-->|<\?.*?\?>|<(/?)([A-Za-z_][\w:.-]*)[^<>]*?(/?)>", re.DOTALL
)
_HTML_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)


def check_depth(text: str, limit: int) -> None:
    """FeedError when elements nest deeper than `limit`: feedparser slows down worse than
    linearly with depth (50,000 levels take over 10 s), and no feed needs more than a few."""
    depth = 0
    for match in _MARKUP.finditer(text):
        closing, name, self_closing = match.groups()
        if closing is None:
            continue
        if closing:
            depth = max(0, depth - 1)
        elif not self_closing and name.lower() not in _HTML_VOID:
            depth += 1
            if depth > limit:
                raise FeedError(f"elements nested more than {limit} deep")


_ROOT = re.compile(r"<([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")


def _root_name(text: str) -> str | None:
    """Local name of the root element of a prolog-stripped document."""
    pos = 0
    while True:
        skip = _PROLOG_SPACE.match(text, pos)
        if skip is None or skip.end() == pos:
            break
        pos = skip.end()
    match = _ROOT.match(text, pos)
    return match.group(2).lower() if match else None


def _parse_with_feedparser(data: bytes, feed_url: str, source: str) -> ParsedFeed:
    # No base URL for feedparser: it would resolve a non-URL guid such as "12345" into a link.
    # Relative links are resolved here instead; xml:base in the document still applies.
    parsed = feedparser.parse(io.BytesIO(data), resolve_relative_uris=False, sanitize_html=True)
    version = _get(parsed, "version") or None
    raw_entries = _get(parsed, "entries") or []
    if not version and not raw_entries:
        problem = _get(parsed, "bozo_exception")
        raise FeedError(f"not a recognisable feed{f' ({problem})' if problem else ''}")
    feed: Mapping[str, Any] = _get(parsed, "feed") or {}
    entries, skipped = _collect(
        (_feedparser_entry(item, feed_url, source) for item in raw_entries[:MAX_ENTRIES]),
        len(raw_entries),
    )
    hub = self_url = None
    for link in _get(feed, "links") or []:
        rel = _get(link, "rel")
        href = _usable_link(_get(link, "href"), feed_url)
        if rel == "hub" and hub is None:
            hub = href
        elif rel == "self" and self_url is None:
            self_url = href
    return ParsedFeed(
        kind=_kind(version),
        version=version,
        title=_title(_get(feed, "title")),
        entries=entries,
        hub=hub,
        self_url=self_url,
        ttl_minutes=_positive_int(_get(feed, "ttl")),
        update_period_minutes=_update_period(
            _get(feed, "sy_updateperiod"), _get(feed, "sy_updatefrequency")
        ),
        skipped=skipped,
    )


def _kind(version: str | None) -> FeedKind:
    if version and version.startswith("atom"):
        return "atom"
    if version in ("rss090", "rss10"):
        return "rdf"
    return "rss"


def _get(mapping: Any, key: str) -> Any:
    """A FeedParserDict value without its key aliasing (which warns for some keys)."""
    return dict.get(mapping, key) if isinstance(mapping, dict) else None


def _feedparser_entry(item: Mapping[str, Any], feed_url: str, source: str) -> FeedEntry | None:
    guid = _get(item, "id")
    guid_is_url = isinstance(guid, str) and guid.strip().lower().startswith(("http://", "https://"))
    # feedparser copies a permalink guid into `link`, resolving "12345" against the feed URL
    candidates: list[Any] = [] if _get(item, "guidislink") else [_get(item, "link")]
    candidates += [
        _get(link, "href")
        for link in _get(item, "links") or []
        if _get(link, "rel") in (None, "alternate")
        and not str(_get(link, "type") or "").startswith("image")
    ]
    if guid_is_url:
        candidates.append(guid)
    link = next((u for u in (_usable_link(c, feed_url) for c in candidates) if u), None)
    if link is None:
        return None
    published = None
    for key in ("published", "updated", "created"):
        published = _from_struct(_get(item, f"{key}_parsed")) or parse_date(_get(item, key))
        if published:
            break
    return FeedEntry(
        link=link,
        title=_title(_get(item, "title")),
        published=published,
        summary=_summary(_get(item, "summary")),
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
        url = value if urlsplit(value).scheme else urljoin(base, value)
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


def _title(value: Any) -> str | None:
    text = _text(value)
    if text and len(text) > MAX_TITLE_CHARS:
        text = text[:MAX_TITLE_CHARS].rsplit(" ", 1)[0] + "…"
    return text


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


def _parse_json_feed(text: str, feed_url: str, source: str) -> ParsedFeed:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
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
        title=_title(document.get("title")),
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
        title=_title(item.get("title")),
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


def _parse_text_sitemap(text: str, feed_url: str, source: str) -> ParsedFeed:
    """A sitemap as plain text, one URL per line; anything else is not a feed."""
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
