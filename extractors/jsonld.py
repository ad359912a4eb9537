"""schema.org JSON-LD blocks: parsed once per page, flattened, and the article object picked."""

from __future__ import annotations

import json
import re
from typing import Any

from lxml.html import HtmlElement

from newsdesk.urls import normalize_url

ARTICLE_TYPES = frozenset(
    {
        "article",
        "newsarticle",
        "reportagenewsarticle",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "reviewnewsarticle",
        "backgroundnewsarticle",
        "askpublicnewsarticle",
        "blogposting",
        "liveblogposting",
        "socialmediaposting",
        "report",
        "scholarlyarticle",
        "techarticle",
        "medicalscholarlyarticle",
    }
)
PAGE_TYPES = frozenset({"webpage", "itempage", "aboutpage", "faqpage", "medicalwebpage"})
LISTING_TYPES = frozenset({"collectionpage", "searchresultspage", "profilepage", "website"})

_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _loads(text: str) -> Any:
    text = text.strip()
    for prefix, suffix in (("<!--", "-->"), ("<![CDATA[", "]]>"), ("//<![CDATA[", "//]]>")):
        if text.startswith(prefix) and text.endswith(suffix):
            text = text[len(prefix) : -len(suffix)].strip()
    try:
        return json.loads(text, strict=False)
    except ValueError:
        pass
    try:
        return json.loads(_TRAILING_COMMA.sub(r"\1", _CONTROL.sub(" ", text)), strict=False)
    except ValueError:
        return None


def _flatten(data: Any, out: list[dict[str, Any]], depth: int = 0) -> None:
    if depth > 4:
        return
    if isinstance(data, list):
        for item in data:
            _flatten(item, out, depth + 1)
    elif isinstance(data, dict):
        graph = data.get("@graph")
        if graph is not None:
            _flatten(graph, out, depth + 1)
        if "@type" in data:
            out.append(data)
            main = data.get("mainEntity")
            if isinstance(main, dict) and types_of(main) & ARTICLE_TYPES:
                out.append(main)


def read_jsonld(tree: HtmlElement) -> list[dict[str, Any]]:
    """Every typed object of every JSON-LD block, `@graph`s flattened, bad blocks skipped."""
    objects: list[dict[str, Any]] = []
    for script in tree.iter("script"):
        if "ld+json" not in (script.get("type") or "").lower() or not script.text:
            continue
        _flatten(_loads(script.text), objects)
    return objects


def types_of(obj: dict[str, Any]) -> set[str]:
    """The object's `@type`s, lower-cased and without a schema.org prefix."""
    raw = obj.get("@type")
    values = raw if isinstance(raw, list) else [raw]
    return {v.rsplit("/", 1)[-1].rsplit(":", 1)[-1].lower() for v in values if isinstance(v, str)}


def text_of(value: Any) -> str | None:
    """A plain string from a JSON-LD value that may be a string, a list or a `{name|@value}`."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value") or value.get("url") or value.get("@id")
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        text = " ".join(str(value).split())
        return text or None
    return None


def url_of(value: Any) -> str | None:
    """An address from a JSON-LD value: a string, or an object's `url` or `@id`."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("url") or value.get("@id")
    return value.strip() if isinstance(value, str) and value.strip() else None


def _urls_of(obj: dict[str, Any]) -> set[str]:
    found = set()
    for key in ("url", "mainEntityOfPage", "@id"):
        value = text_of(obj.get(key))
        if value and value.startswith("http"):
            found.add(normalize_url(value.split("#")[0]))
    return found


def pick_article(objects: list[dict[str, Any]], urls: list[str]) -> dict[str, Any] | None:
    """The object describing this page's article: among several (related stories are often
    listed too) the one whose URL is the page's, else the first with a headline. Without an
    article object, the `WebPage` (WordPress/Yoast graphs put author and dates there)."""
    articles = [o for o in objects if types_of(o) & ARTICLE_TYPES]
    if not articles:
        return first_of_type(objects, PAGE_TYPES)
    if len(articles) > 1:
        wanted = {normalize_url(u) for u in urls if u}
        for obj in articles:
            if _urls_of(obj) & wanted:
                return obj
    return next((o for o in articles if o.get("headline")), articles[0])


def dereference(value: Any, objects: list[dict[str, Any]]) -> Any:
    """`{"@id": ...}` references (Yoast-style `@graph`s use them for the publisher, image and
    authors) replaced by the objects they point to; other values unchanged."""
    if isinstance(value, list):
        return [dereference(item, objects) for item in value]
    if isinstance(value, dict) and "@id" in value and len(value.keys() - {"@id", "@type"}) == 0:
        target = value["@id"]
        return next((o for o in objects if o.get("@id") == target and o is not value), value)
    return value


def first_of_type(objects: list[dict[str, Any]], wanted: frozenset[str]) -> dict[str, Any] | None:
    return next((o for o in objects if types_of(o) & wanted), None)
