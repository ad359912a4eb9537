"""Whether a page that parsed holds an article at all: error pages served with status 200,
home, section, tag and search pages, and pages with too little running text are not."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from extractors.body import count_words
from extractors.jsonld import ARTICLE_TYPES, LISTING_TYPES, first_of_type, types_of
from extractors.page import Page, clean_text
from newsdesk.models import Section

MIN_WORDS = 20
_LONG_PARAGRAPH_WORDS = 25
_SHORT_PAGE_WORDS = 150
_ERROR_TITLE = re.compile(
    r"\b(?:404|410)\b|page not found|not found|no longer (?:available|exists)"
    r"|(?:page|article|content) (?:does not|doesn't) exist|seite nicht gefunden|nicht gefunden"
    r"|page introuvable|página no encontrada|pagina non trovata|niet gevonden|error page",
    re.I,
)
_LISTING_PATH = re.compile(
    r"^/(?:[\w-]+/)?(?:tags?|topics?|category|categories|section|sections|authors?|search"
    r"|archives?|themen|thema|schlagworte?|rubrik|ressort|autoren)(?:/[^/]*)?/?$"
    r"|/page/\d+/?$|^/index\.\w+$",
    re.I,
)
_ARTICLE_OG_TYPES = frozenset({"article", "news", "blog", "blogposting", "newsarticle"})


def _declares_article(page: Page) -> bool:
    og_type = page.meta_first("og:type")
    return bool(page.article_ld and types_of(page.article_ld) & ARTICLE_TYPES) or bool(
        og_type and og_type.value.lower() in _ARTICLE_OG_TYPES
    )


def _headline_texts(page: Page) -> list[str]:
    title = page.tree.find(".//title")
    texts = [clean_text(title.text_content())] if title is not None else []
    texts.extend(clean_text(h.text_content()) for h in page.tree.iter("h1"))
    return [t for t in texts if t]


def not_article_reason(page: Page, sections: list[Section], word_count: int) -> str | None:
    """Why the page is not an article, or None when it is one."""
    if not sections:
        return "no main text found"
    declares = _declares_article(page)
    long_paragraphs = sum(
        sum(count_words(p)) >= _LONG_PARAGRAPH_WORDS for s in sections for p in s.paragraphs
    )
    for text in _headline_texts(page)[:3]:
        if _ERROR_TITLE.search(text) and long_paragraphs < 3:
            return f"error page served as a normal page ({text[:80]!r})"
    parts = urlsplit(page.url) if page.url else None
    path = parts.path if parts else ""
    if not declares:
        if parts and path in {"", "/"} and not parts.query:
            return "home page, not an article"
        if _LISTING_PATH.search(path):
            return f"listing page ({path}), not an article"
        if first_of_type(page.jsonld, LISTING_TYPES - {"website"}) is not None:
            return "the page declares itself a collection page, not an article"
    if word_count < MIN_WORDS:
        return f"too little text for an article ({word_count} words)"
    if long_paragraphs == 0 and not declares and word_count < _SHORT_PAGE_WORDS:
        return f"too little running text, only short blocks ({word_count} words)"
    return None
