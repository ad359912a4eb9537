"""Short page-level fields: site name, description, canonical URL and keywords."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from lxml.html import HtmlElement

from extractors.jsonld import first_of_type, text_of, url_of
from extractors.page import Found, Page, clean_text, text_key

_KEYWORD_SPLIT = re.compile(r"\s*[,;]\s*")
MAX_KEYWORDS = 40


def _ld_value(page: Page, key: str) -> str | None:
    return text_of(page.ld(key))


def extract_site_name(page: Page) -> Found[str] | None:
    found = page.meta_first("og:site_name")
    if found:
        return found
    if (name := text_of(page.ld("publisher"))) and not name.startswith("http"):
        return Found(name, "json-ld")
    website = first_of_type(page.jsonld, frozenset({"website"}))
    if website and (name := text_of(website.get("name"))):
        return Found(name, "json-ld")
    found = page.meta_first("application-name", "apple-mobile-web-app-title")
    return Found(found.value, "meta") if found else None


def extract_description(page: Page) -> Found[str] | None:
    found = page.meta_first("description", "og:description", "twitter:description")
    if found:
        return Found(found.value, "meta")
    if value := _ld_value(page, "description"):
        return Found(value, "json-ld")
    return None


def _is_deep(url: str) -> bool:
    return urlsplit(url).path.strip("/") != ""


def extract_canonical_url(page: Page) -> Found[str] | None:
    """The page's own statement of its address. A canonical link to the site's root from a deep
    page is a CMS template mistake and is ignored."""
    og_url = page.meta_first("og:url")
    candidates: list[tuple[str | None, str]] = [
        (page.canonical_href, "link-canonical"),
        (og_url.value if og_url else None, "og:url"),
        (url_of(page.ld("mainEntityOfPage")) or url_of(page.ld("url")), "json-ld"),
    ]
    page_is_deep = _is_deep(page.url) if page.url else True
    for value, method in candidates:
        if not value:
            continue
        absolute = page.absolute(value)
        if not absolute.startswith(("http://", "https://")):
            continue
        if page_is_deep and not _is_deep(absolute):
            continue
        return Found(absolute, method)
    return None


def _split_keywords(value: Any) -> list[str]:
    if isinstance(value, list):
        return [k for item in value for k in _split_keywords(item)]
    text = text_of(value)
    return [clean_text(k) for k in _KEYWORD_SPLIT.split(text)] if text else []


def extract_keywords(page: Page) -> Found[list[str]] | None:
    """Keywords from every source that states them, merged in order without duplicates."""
    sources: list[tuple[str, list[str]]] = [
        ("meta:keywords", [k for v in page.meta.get("keywords", []) for k in _split_keywords(v)]),
        (
            "meta:news_keywords",
            [k for v in page.meta.get("news_keywords", []) for k in _split_keywords(v)],
        ),
        ("article:tag", [clean_text(v) for v in page.meta.get("article:tag", [])]),
        (
            "json-ld",
            _split_keywords(page.ld("keywords")),
        ),
    ]
    keywords: list[str] = []
    seen: set[str] = set()
    methods = []
    for method, values in sources:
        added = False
        for keyword in values:
            key = keyword.casefold()
            if not keyword or len(keyword) > 80 or key in seen:
                continue
            seen.add(key)
            keywords.append(keyword)
            added = True
        if added:
            methods.append(method)
    if not keywords:
        return None
    return Found(keywords[:MAX_KEYWORDS], "+".join(methods))


_DEK_WORDS = (
    "dek",
    "deck",
    "standfirst",
    "subtitle",
    "sub-title",
    "subhead",
    "vorspann",
    "entradilla",
    "sapo",
    "chapo",
    "chapeau",
    "bajada",
)
_DEK_TAGS = frozenset({"p", "h2", "h3", "div", "span"})


def _standfirst_candidates(page: Page) -> Iterator[HtmlElement]:
    """Where a dek sits: beside the `h1`, in a `header` holding it, or named as one."""
    for h1 in page.tree.iter("h1"):
        parent = h1.getparent()
        if parent is not None:
            yield from (e for e in parent if e.tag in _DEK_TAGS)
        header = next((a for a in h1.iterancestors("header")), None)
        if header is not None:
            yield from (e for e in header.iter("p", "h2", "h3", "div") if len(e) < 5)
    yield from (e for e in page.marked(*_DEK_WORDS) if e.tag in _DEK_TAGS)


def find_standfirst(page: Page, description: str | None) -> str | None:
    """The standfirst as shown, when the page shows its description as one: a dek beside the
    headline (in the same container as the `h1`, or in a `header` holding it) or an element
    named as one (`dek`, `standfirst`, `vorspann`, ...). The body then need not repeat it."""
    wanted = text_key(description or "")
    if not wanted:
        return None
    for element in _standfirst_candidates(page):
        text = element.text_content()
        if len(text) < len(wanted) * 3 and text_key(text) == wanted:
            return clean_text(text)
    return None
