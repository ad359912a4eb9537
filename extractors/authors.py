"""Who wrote the article: JSON-LD, meta tags, a byline element or a `By ...` line.

The sources are tried in that order, but the byline the page shows wins whenever it names the
same people, because only it carries roles and locations (`... in Washington`) and it is what
readers see; metadata authors are often CMS accounts or the publisher itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from lxml.etree import XPath
from lxml.html import HtmlElement

from extractors.agencies import agency_name
from extractors.byline import parse_byline
from extractors.jsonld import text_of, types_of
from extractors.page import Found, Page, clean_text
from newsdesk.models import Author

AUTHOR_META = (
    "author",
    "article:author",
    "dc.creator",
    "dcterms.creator",
    "sailthru.author",
    "parsely-author",
    "byl",
    "citation_author",
)
BYLINE_PREFIX = re.compile(r"^(?:by|von|par|por|door|av|af)\s+[^\W\d_]", re.I | re.UNICODE)
_AUTHOR_PROPERTY = XPath(
    '//*[@itemprop or @rel][(@itemprop="author" and not(self::meta) and not(self::link))'
    ' or @rel="author" or contains(@rel, " author") or starts-with(@rel, "author ")]'
)
_NOT_BYLINE = re.compile(
    r"comment|avatar|image|img|photo|bio|widget|follow|social|related|teaser|share", re.I
)
_COMMENT_TOKEN = re.compile(
    r"^(?:comments?|commentlist|discussion|replies)(?:[-_](?:list|area|body|content|thread"
    r"|wrapper|respond|item|author|meta|text))?$|^comment[-_]author"
)
_MAX_BYLINE = 250
_MAX_BYLINE_CHILDREN = 12
_COMMA_RUN = re.compile(r"(?:\s*,)+\s*")
_CONNECTOR_COMMA = re.compile(r"\b(and|und|et|y|by|von|par|por|&)\s*,\s*", re.I)
_BREAKS = frozenset({"br", "p", "div", "li"})


def _names(authors: Iterable[Author]) -> set[str]:
    return {a.name.casefold() for a in authors}


def _from_jsonld_value(value: Any, publisher: str | None) -> list[Author]:
    items = value if isinstance(value, list) else [value]
    authors: list[Author] = []
    for item in items:
        if isinstance(item, str):
            if not item.startswith("http"):
                authors.extend(parse_byline(item))
            continue
        if not isinstance(item, dict):
            continue
        name = text_of(item.get("name"))
        if not name or name.startswith("http"):
            continue
        types = types_of(item)
        if "person" not in types and types & {"organization", "newsmediaorganization"}:
            if agency := agency_name(name):
                authors.append(Author(name=agency, agency=agency))
            continue
        if publisher and name.casefold() == publisher.casefold():
            continue
        found = parse_byline(name)
        role = text_of(item.get("jobTitle"))
        if role and len(found) == 1:
            found[0].role = found[0].role or role
        authors.extend(found)
    return authors


def _from_jsonld(page: Page) -> list[Author]:
    if not page.article_ld:
        return []
    publisher = text_of(page.ld("publisher"))
    value = page.ld("author") or page.ld("creator")
    return _from_jsonld_value(value, publisher) if value else []


def _from_meta(page: Page) -> list[Author]:
    for key in AUTHOR_META:
        values = [v for v in page.meta.get(key, []) if not v.startswith(("http", "/", "@"))]
        authors = [a for value in values for a in parse_byline(value)]
        if authors:
            return authors
    return []


def _usable_byline_element(element: HtmlElement) -> bool:
    """Not a reader comment's author, not an author box's picture, bio or links."""
    for node in (element, *element.iterancestors()):
        marker = f"{node.get('class', '')} {node.get('id', '')}"
        if any(_COMMENT_TOKEN.match(token) for token in marker.lower().split()):
            return False
        if node is element and _NOT_BYLINE.search(marker.replace("byline", "")):
            return False
    return True


def _byline_text(element: HtmlElement) -> str:
    """The element's text with line breaks and block children as commas, since bylines put
    the role on a line of its own: `By Harold Jensen<br>Sentinel Editor`."""
    parts: list[str] = []

    def walk(node: HtmlElement) -> None:
        if node.tag in {"script", "style"}:
            return
        if node is not element:
            parts.append(", " if node.tag in _BREAKS else " ")
        parts.append(node.text or "")
        for child in node:
            walk(child)
            parts.append(child.tail or "")

    walk(element)
    text = clean_text("".join(parts)).replace(" ,", ",")
    text = _CONNECTOR_COMMA.sub(r"\1 ", _COMMA_RUN.sub(", ", text))
    return text.strip(" ,")


def _byline_candidates(page: Page) -> Iterator[HtmlElement]:
    """Elements that may hold the byline, most explicit markup first."""
    yield from _AUTHOR_PROPERTY(page.tree)
    yield from page.marked("byline")
    yield from page.marked("author", "autor", "writer")


def _from_byline_elements(page: Page) -> list[Author]:
    for element in _byline_candidates(page):
        if len(element) > _MAX_BYLINE_CHILDREN or not _usable_byline_element(element):
            continue
        text = _byline_text(element)
        if not text or len(text) > _MAX_BYLINE:
            continue
        authors = parse_byline(text)
        if authors:
            return authors
    return []


def is_byline_text(text: str) -> bool:
    """A short `By ...` line that names someone: a byline, not a sentence of the article."""
    return len(text) <= _MAX_BYLINE and bool(BYLINE_PREFIX.match(text)) and bool(parse_byline(text))


def _from_byline_text(paragraphs: list[str]) -> list[Author]:
    for text in paragraphs[:4]:
        if is_byline_text(text):
            return parse_byline(text)
    return []


def extract_authors(page: Page, paragraphs: list[str]) -> Found[list[Author]] | None:
    """Authors, given the page and its first body paragraphs (where a `By` line may sit).
    A byline the page shows that names the same people as the metadata wins, unless the
    metadata names more of them; either way each keeps what the other adds."""
    metadata = [
        Found(authors, method)
        for authors, method in ((_from_jsonld(page), "json-ld"), (_from_meta(page), "meta"))
        if authors
    ]
    visible = [
        Found(authors, method)
        for authors, method in (
            (_from_byline_elements(page), "byline-element"),
            (_from_byline_text(paragraphs), "byline-text"),
        )
        if authors
    ]
    if not metadata:
        return visible[0] if visible else None
    stated = metadata[0]
    for shown in visible:
        if _names(shown.value) & _names(stated.value):
            if len(shown.value) >= len(stated.value):
                return Found(_enriched(shown.value, stated.value), shown.method)
            return Found(_enriched(stated.value, shown.value), stated.method)
    return stated


def _enriched(shown: list[Author], stated: list[Author]) -> list[Author]:
    """The byline's authors, with what the metadata adds about the same people (a JSON-LD
    `jobTitle` as role, say) where the byline says nothing."""
    by_name = {a.name.casefold(): a for a in stated}
    enriched = []
    for author in shown:
        other = by_name.get(author.name.casefold())
        if other is not None:
            author = author.model_copy(
                update={
                    key: getattr(other, key)
                    for key in ("role", "location", "agency")
                    if getattr(author, key) is None and getattr(other, key) is not None
                }
            )
        enriched.append(author)
    return enriched
