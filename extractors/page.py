"""One parsed page shared by every field extractor, so the HTML is parsed exactly once.

`Page` holds the lxml tree and the lookups several fields need (meta tags, JSON-LD), each
computed on first use. `Found` pairs a field's value with the method that produced it, which
`extract_article` records in `ArticleFields.provenance`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, Generic, NamedTuple, TypeVar
from urllib.parse import urljoin, urlsplit

from lxml.etree import XPath
from lxml.html import HtmlElement
from trafilatura.utils import load_html

from extractors.decode import MAX_PAGE_BYTES, check_not_binary, decode_page
from extractors.jsonld import dereference, pick_article, read_jsonld, text_of
from newsdesk.errors import NotAnArticle

T = TypeVar("T")
_CLASSED = XPath("//*[@class or @id]")


@lru_cache(maxsize=64)
def _alternation(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(w) for w in words))


class Found(NamedTuple, Generic[T]):
    value: T
    method: str


# Soft hyphens, zero-width spaces, BOMs, bidi controls and C0 controls: invisible, but they
# break word matching. Zero-width (non-)joiners stay: Persian and Indic spelling needs them.
INVISIBLE = re.compile(
    r"[\u00ad\u200b\u2060\ufeff\u200e\u200f\u202a-\u202e\x00-\x08\x0b\x0e-\x1f\x7f]"
)


_KEY_WORDS = re.compile(r"\w+")


def clean_text(text: str | None) -> str:
    """Invisible characters removed, whitespace collapsed to single spaces."""
    return " ".join(INVISIBLE.sub("", text).split()) if text else ""


def text_key(text: str) -> str:
    """A key for "the same text": case, punctuation and spacing ignored."""
    return "".join(_KEY_WORDS.findall(text.casefold()))


def element_text(element: HtmlElement) -> str:
    """The element's text with its parts (`By Jane Doe<br>Editor`) kept apart by spaces."""
    return clean_text(" ".join(element.itertext()))


@dataclass
class Page:
    tree: HtmlElement
    url: str
    encoding_method: str = "str"

    @cached_property
    def meta(self) -> dict[str, list[str]]:
        """`<meta>` contents by lower-cased name/property/itemprop, in page order."""
        found: dict[str, list[str]] = {}
        for element in self.tree.iter("meta"):
            content = clean_text(element.get("content"))
            if not content:
                continue
            for attr in ("property", "name", "itemprop", "http-equiv"):
                key = element.get(attr)
                if key:
                    found.setdefault(key.strip().lower(), []).append(content)
        return found

    def meta_first(self, *keys: str) -> Found[str] | None:
        """The first non-empty meta value among `keys`, tried in order, with the key as method."""
        for key in keys:
            values = self.meta.get(key)
            if values:
                return Found(values[0], key)
        return None

    @cached_property
    def _markers(self) -> list[tuple[HtmlElement, str]]:
        """Every element that has a class or id, with both lower-cased: one pass that all
        class-name lookups share (an XPath `translate()` per lookup costs far more)."""
        return [
            (element, f"{element.get('class', '')} {element.get('id', '')}".lower())
            for element in _CLASSED(self.tree)
        ]

    def marked(self, *words: str) -> list[HtmlElement]:
        """Elements whose class or id contains any of `words` (lower case), in page order."""
        pattern = _alternation(words)
        return [element for element, marker in self._markers if pattern.search(marker)]

    @cached_property
    def jsonld(self) -> list[dict[str, Any]]:
        return read_jsonld(self.tree)

    @cached_property
    def article_ld(self) -> dict[str, Any] | None:
        return pick_article(self.jsonld, [self.url, self.canonical_href or ""])

    def ld(self, key: str) -> Any:
        """A property of the article's JSON-LD object, `@id` references resolved."""
        if not self.article_ld:
            return None
        return dereference(self.article_ld.get(key), self.jsonld)

    @cached_property
    def canonical_href(self) -> str | None:
        for link in self.tree.iter("link"):
            if "canonical" in (link.get("rel") or "").lower().split() and link.get("href"):
                return self.absolute(link.get("href", ""))
        return None

    @cached_property
    def html_lang(self) -> str | None:
        root = self.tree.getroottree().getroot()
        lang = root.get("lang") or root.get("xml:lang")
        if not lang:
            found = self.meta_first("content-language", "og:locale", "language", "dc.language")
            lang = found.value if found else text_of(self.ld("inLanguage"))
        return lang.strip().replace("_", "-").lower() if lang else None

    def absolute(self, href: str) -> str:
        href = href.strip()
        if not self.url or urlsplit(href).scheme:
            return href
        return urljoin(self.url, href)


def load_page(page: bytes | str, url: str, charset: str | None = None) -> Page:
    """Decode and parse a page once; `NotAnArticle` when it is empty, binary or not HTML."""
    if isinstance(page, bytes):
        if not page.strip():
            raise NotAnArticle("the page is empty", url=url)
        page = page[:MAX_PAGE_BYTES]
        try:
            check_not_binary(page)
        except NotAnArticle as exc:
            raise NotAnArticle(exc.reason, url=url) from None
        decoded = decode_page(page, charset)
        text, method = decoded.text, decoded.method
    else:
        text, method = page[:MAX_PAGE_BYTES], "str"
    if not text.strip():
        raise NotAnArticle("the page is empty", url=url)
    tree = load_html(text)
    if tree is None or (tree.find(".//body") is None and len(tree) < 2):
        raise NotAnArticle("the page is not parseable HTML", url=url)
    return Page(tree=tree, url=url, encoding_method=method)
