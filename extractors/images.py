"""The lead image: what the page offers for sharing (og:image, JSON-LD), with the caption of
the figure that shows it, matched by file name since share images are often resized copies."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from lxml.html import HtmlElement

from extractors.jsonld import text_of
from extractors.page import Found, Page, clean_text, element_text
from newsdesk.models import Image

_SIZE_SUFFIX = re.compile(
    r"([_-](\d{2,4}x\d{2,4}|w\d{2,4}|h\d{2,4}|\d{2,4}w|large|medium|small|thumb))+$"
)
_CAPTION_XPATH = (
    './/figcaption | .//*[contains(translate(@class, "CAPTION", "caption"), "caption")]'
)
_IMG_SOURCES = ("src", "data-src", "data-lazy-src", "data-original", "srcset", "data-srcset")


def _stem(url: str) -> str:
    name = urlsplit(url.split()[0] if url.strip() else "").path.rsplit("/", 1)[-1]
    name = name.rsplit(".", 1)[0].lower()
    return _SIZE_SUFFIX.sub("", name)


def _ld_image(page: Page) -> tuple[str, str | None] | None:
    value: Any = page.ld("image") or page.ld("thumbnailUrl")
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        url = text_of(value.get("url") or value.get("contentUrl"))
        return (url, text_of(value.get("caption"))) if url else None
    url = text_of(value)
    return (url, None) if url else None


def _caption(container: HtmlElement) -> str | None:
    for element in container.xpath(_CAPTION_XPATH):
        text = element_text(element)
        if text:
            return text
    return None


def _caption_for(page: Page, url: str) -> str | None:
    """The caption shown with the image: a `figcaption` or `.caption` element in the
    image's figure or in one of its three nearest containers."""
    stem = _stem(url)
    if not stem:
        return None
    for img in page.tree.iter("img", "source"):
        sources = " ".join(img.get(attr, "") for attr in _IMG_SOURCES)
        if stem not in sources.lower():
            continue
        node = img.getparent()
        for _ in range(3):
            if node is None or node.tag in {"article", "main", "body"}:
                break
            if caption := _caption(node):
                return caption
            node = node.getparent()
    return None


def _first_article_figure(page: Page) -> tuple[str, str | None] | None:
    for figure in page.tree.xpath("//article//figure[.//img] | //main//figure[.//img]"):
        img = next(figure.iter("img"))
        src = img.get("src") or img.get("data-src")
        if src and not src.startswith("data:"):
            return page.absolute(src), _caption(figure)
    return None


def extract_top_image(page: Page) -> Found[Image] | None:
    shared = page.meta_first(
        "og:image", "og:image:url", "og:image:secure_url", "twitter:image", "twitter:image:src"
    )
    ld = _ld_image(page)
    if shared:
        url, method, caption = shared.value, shared.method, None
    elif ld:
        url, method, caption = ld[0], "json-ld", ld[1]
    else:
        figure = _first_article_figure(page)
        if not figure:
            return None
        return Found(Image(url=figure[0], caption=figure[1]), "figure")
    url = page.absolute(url)
    if shown := _caption_for(page, url):
        caption = shown
    elif ld and ld[1] and _stem(ld[0]) == _stem(url):
        caption = ld[1]
    return Found(Image(url=url, caption=clean_text(caption) or None), method)


def caption_texts(page: Page) -> frozenset[str]:
    """Every image caption on the page, so the body can leave them out."""
    elements = [*page.tree.iter("figcaption"), *page.marked("caption")]
    return frozenset(t for t in (clean_text(" ".join(e.itertext())) for e in elements) if t)
