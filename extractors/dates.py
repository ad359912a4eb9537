"""Publication and modification dates, as timezone-aware datetimes.

Sources in order: JSON-LD, meta tags, `<time>`/itemprop markup, the URL; for the publication
date htmldate (which also searches the visible text) picks the day and these sources the
time. Markup usually carries a time and an offset, kept as the page states it; a date
without a time is midnight, and a time without an offset is taken as UTC. Dates before 1990
or more than a day in the future (time zone slack) are rejected as template placeholders or
parse errors.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from dateutil.parser import ParserError, UnknownTimezoneWarning
from dateutil.parser import parse as dateutil_parse
from htmldate import find_date

from extractors.jsonld import text_of
from extractors.page import Found, Page, clean_text

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
_DEFAULT = datetime(2000, 1, 1)
_HOUR = 3600
# Zone abbreviations news pages print; others are read as UTC (without dateutil's warning).
_ZONES = {
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "BST": _HOUR,
    "CET": _HOUR,
    "MEZ": _HOUR,
    "CEST": 2 * _HOUR,
    "MESZ": 2 * _HOUR,
    "EET": 2 * _HOUR,
    "EEST": 3 * _HOUR,
    "MSK": 3 * _HOUR,
    "IST": 5 * _HOUR + 1800,
    "JST": 9 * _HOUR,
    "KST": 9 * _HOUR,
    "AEST": 10 * _HOUR,
    "AEDT": 11 * _HOUR,
    "EST": -5 * _HOUR,
    "EDT": -4 * _HOUR,
    "CST": -6 * _HOUR,
    "CDT": -5 * _HOUR,
    "MST": -7 * _HOUR,
    "MDT": -6 * _HOUR,
    "PST": -8 * _HOUR,
    "PDT": -7 * _HOUR,
}

PUBLISHED_META = (
    "article:published_time",
    "og:article:published_time",
    "og:published_time",
    "datepublished",
    "article.published",
    "pubdate",
    "publishdate",
    "publish-date",
    "publish_date",
    "publication_date",
    "published_time",
    "date_published",
    "sailthru.date",
    "parsely-pub-date",
    "article_date_original",
    "cxenseparse:recs:publishtime",
    "citation_publication_date",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date.created",
    "dcterms.created",
    "dc.date",
    "dcterms.date",
    "date",
    "originalpublicationdate",
)
MODIFIED_META = (
    "article:modified_time",
    "og:updated_time",
    "datemodified",
    "article.updated",
    "modified_time",
    "dc.date.modified",
    "dcterms.modified",
    "last-modified",
    "lastmod",
)
_URL_DATE = re.compile(
    r"/((?:19|20)\d\d)[/_-]?(0[1-9]|1[0-2])[/_-]?(0[1-9]|[12]\d|3[01])(?:/|[_-]|\.|$)"
)
_PUBLISHED_MARKUP = (
    '//*[@itemprop="datePublished" and not(self::meta)] | //time[@pubdate]'
    ' | //article//time[@datetime] | //time[@datetime][contains(@class, "publish")]'
)
_ISO_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d")


def parse_datetime(value: str | None) -> datetime | None:
    """A datetime from a machine-readable (ISO 8601) or common English date string."""
    text = clean_text(value)
    if not text or len(text) > 64:
        return None
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UnknownTimezoneWarning)
                parsed = dateutil_parse(text, default=_DEFAULT, tzinfos=_ZONES)
        except (ParserError, ValueError, OverflowError):
            return None
        if not _ISO_PREFIX.match(text) and not re.search(r"(19|20)\d\d", text):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed if _plausible(parsed) else None


def _plausible(value: datetime) -> bool:
    return EARLIEST <= value <= datetime.now(UTC) + timedelta(days=1)


def _from_jsonld(page: Page, key: str) -> datetime | None:
    return parse_datetime(text_of(page.ld(key)))


def _from_meta(page: Page, keys: tuple[str, ...]) -> Found[datetime] | None:
    for key in keys:
        for value in page.meta.get(key, []):
            parsed = parse_datetime(value)
            if parsed:
                return Found(parsed, f"meta:{key}")
    return None


def _from_markup(page: Page, xpath: str) -> datetime | None:
    for element in page.tree.xpath(xpath):
        for value in (element.get("datetime"), element.get("content"), element.text_content()):
            parsed = parse_datetime(value)
            if parsed:
                return parsed
    return None


def _from_url(url: str) -> datetime | None:
    match = _URL_DATE.search(url)
    if not match:
        return None
    try:
        year, month, day = (int(g) for g in match.groups())
        value = datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        return None
    return value if _plausible(value) else None


def _from_htmldate(page: Page, *, extensive: bool) -> datetime | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownTimezoneWarning)
        found = find_date(
            page.tree,
            extensive_search=extensive,
            original_date=True,
            outputformat="%Y-%m-%d",
            url=page.url or None,
            min_date=EARLIEST.replace(tzinfo=None),
        )
    return parse_datetime(found) if found else None


def _published_candidates(page: Page) -> Iterator[Found[datetime]]:
    """Publication dates the page states in markup, in order of trust; most carry a time."""
    if value := _from_jsonld(page, "datePublished") or _from_jsonld(page, "dateCreated"):
        yield Found(value, "json-ld")
    if found := _from_meta(page, PUBLISHED_META):
        yield found
    if value := _from_markup(page, _PUBLISHED_MARKUP):
        yield Found(value, "time-element")
    if value := _from_url(page.url):
        yield Found(value, "url")


def extract_published(page: Page) -> Found[datetime] | None:
    """The publication date. htmldate's choice of day is the anchor (on real pages it picks
    the right day more often than any single markup source); the markup source stating
    that day supplies the time and offset. htmldate searches the visible text (slow) only
    when the markup states no date at all or its quick look disagrees with the markup."""
    candidates = list(_published_candidates(page))
    anchor = _from_htmldate(page, extensive=not candidates)
    if anchor is None:
        return _in_local_time(candidates[0], candidates) if candidates else None
    if matching := _on_day(candidates, anchor):
        return _in_local_time(matching, candidates)
    if candidates:
        anchor = _from_htmldate(page, extensive=True) or anchor
        if matching := _on_day(candidates, anchor):
            return _in_local_time(matching, candidates)
    return Found(anchor, "htmldate")


def _in_local_time(chosen: Found[datetime], candidates: list[Found[datetime]]) -> Found[datetime]:
    """The same instant as another source states it in the page's own offset, if one does:
    JSON-LD often gives UTC where the visible `<time>` gives local time, and the local
    calendar day is the publication day readers see."""
    if chosen.value.utcoffset():
        return chosen
    return next((c for c in candidates if c.value == chosen.value and c.value.utcoffset()), chosen)


def _on_day(candidates: list[Found[datetime]], day: datetime) -> Found[datetime] | None:
    return next((c for c in candidates if c.value.date() == day.date()), None)


def extract_modified(page: Page) -> Found[datetime] | None:
    if value := _from_jsonld(page, "dateModified"):
        return Found(value, "json-ld")
    if found := _from_meta(page, MODIFIED_META):
        return found
    if value := _from_markup(
        page,
        '//*[@itemprop="dateModified" and not(self::meta)]'
        ' | //time[@datetime][contains(@class, "updated") or contains(@class, "modified")]',
    ):
        return Found(value, "time-element")
    return None
