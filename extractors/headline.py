"""The headline: metadata titles cross-checked against the headline the page shows.

Metadata titles carry site names (`Headline | The Asahi Shimbun: Breaking News...`) and are
sometimes SEO rewrites; the visible `<h1>` is what readers see but on some templates is the
site logo, or carries a kicker or date inside it. So each is used to confirm the other: a
metadata title equal to or contained in the visible one wins with its own method, a visible
headline contained in a metadata title wins as `h1`; failing both, a headline of four words
or more inside the article beats unrelated metadata.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from urllib.parse import urlsplit

from lxml.etree import XPath
from lxml.html import HtmlElement

from extractors.jsonld import text_of
from extractors.page import Found, Page, clean_text, element_text

_SEPARATOR = re.compile(r"\s+(\||•|·|»|›|::|~|-|–|—)\s+")
_SAFE_SEPARATORS = frozenset({"|", "•", "·", "»", "›", "::", "~"})
_NON_ALNUM = re.compile(r"[\W_]+")
_ARTICLE_ANCESTORS = frozenset({"article", "main"})
_HEADLINE_CLASS = re.compile(r"headline|entry-title|article-title|post-title|story-title", re.I)
_MAX_TITLE = 400


def _key(text: str) -> str:
    """A comparison key that ignores case, punctuation, quote styles and spacing."""
    return _NON_ALNUM.sub("", unicodedata.normalize("NFKC", text).casefold())


def _site_keys(site_names: Iterable[str], url: str) -> list[str]:
    keys = [_key(name) for name in site_names if name]
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    labels = host.split(".")
    if len(labels) >= 2:
        keys.append(_key(labels[-2] if len(labels[-2]) > 3 else ".".join(labels[-3:])))
    return [k for k in keys if len(k) >= 3]


def _is_site(segment: str, site_keys: list[str]) -> bool:
    key = _key(segment)
    return bool(key) and any(site in key or (len(key) >= 4 and key in site) for site in site_keys)


def strip_site_name(title: str, site_keys: list[str], *, generic: bool = False) -> str:
    """Drop a leading or trailing segment that names the site. With `generic`, also drop a
    short trailing segment after a separator that headlines rarely use (`|`, `»`, `·`)."""
    parts = _SEPARATOR.split(title)
    if len(parts) < 3:
        return title
    # parts alternate text, separator, text, ...
    for cut in range(len(parts) - 2, 0, -2):
        head, tail = "".join(parts[:cut]).strip(), "".join(parts[cut + 1 :]).strip()
        if head and _is_site(tail, site_keys):
            return head
    for cut in range(1, len(parts) - 1, 2):
        head, tail = "".join(parts[:cut]).strip(), "".join(parts[cut + 1 :]).strip()
        if tail and _is_site(head, site_keys):
            return tail
    if generic and parts[-2] in _SAFE_SEPARATORS:
        head, tail = "".join(parts[:-2]).strip(), parts[-1].strip()
        if len(tail.split()) <= 6 and len(head) > len(tail):
            return head
    return title


def _in_article(element: HtmlElement) -> bool:
    return any(a.tag in _ARTICLE_ANCESTORS for a in element.iterancestors())


# Element-name steps are cheap for libxml2; an attribute test on every element is not.
_HEADLINE_CANDIDATES = XPath(
    '//h1 | //*[@itemprop][@itemprop="headline" and not(self::meta)]'
    ' | //h2[contains(@class, "title") or contains(@class, "headline")]'
    ' | //div[contains(@class, "headline")] | //span[contains(@class, "headline")]'
)


def _visible_headlines(page: Page) -> list[tuple[str, bool]]:
    """Candidate headlines shown on the page, with whether each sits inside the article."""
    found = []
    for element in _HEADLINE_CANDIDATES(page.tree):
        text = element_text(element)
        if not text or len(text) > _MAX_TITLE:
            continue
        strong = (
            element.tag == "h1"
            or element.get("itemprop") == "headline"
            or bool(_HEADLINE_CLASS.search(element.get("class") or ""))
        )
        found.append((text, strong and _in_article(element)))
    return found


def _metadata_titles(page: Page, site_keys: list[str]) -> list[Found[str]]:
    titles = []
    if headline := text_of(page.ld("headline")) or text_of(page.ld("name")):
        titles.append(Found(strip_site_name(headline, site_keys), "json-ld"))
    for key in ("og:title", "twitter:title"):
        found = page.meta_first(key)
        if found:
            titles.append(Found(strip_site_name(found.value, site_keys), key))
    title_tag = page.tree.find(".//title")
    if title_tag is not None and (text := clean_text(title_tag.text_content())):
        titles.append(Found(strip_site_name(text, site_keys, generic=True), "title-tag"))
    return [t for t in titles if t.value and len(t.value) <= _MAX_TITLE]


def extract_title(page: Page, site_name: str | None = None) -> Found[str] | None:
    site_names = [n for n in (site_name, *page.meta.get("og:site_name", [])) if n]
    site_keys = _site_keys(site_names, page.url)
    metadata = _metadata_titles(page, site_keys)
    visible = [
        (text, in_article)
        for text, in_article in _visible_headlines(page)
        if not _is_site(text, site_keys) or len(text.split()) > 4
    ]
    for text, _ in visible:
        key = _key(text)
        if not key:
            continue
        for meta in metadata:
            meta_key = _key(meta.value)
            if meta.value == text or (len(meta_key) >= 10 and meta_key in key):
                return meta
            if meta_key == key or (len(key) >= 10 and key in meta_key):
                return Found(text, "h1")
    for text, in_article in visible:
        if in_article and len(text.split()) >= 4:
            return Found(text, "h1")
    if metadata:
        return metadata[0]
    if visible:
        return Found(visible[0][0], "h1")
    return None
