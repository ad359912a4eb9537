"""Whether a page that parsed holds an article at all: error pages served with status 200,
home, section, tag and search pages, photo galleries and pages with too little running text
are not."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from lxml.html import HtmlElement

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

# A root page is one article when one element holds the page's running text and no teaser
# list of linked headlines stands beside it.
_SINGLE_ARTICLE_LONG_PARAGRAPHS = 3
_MAX_TEASER_HEADINGS = 2
_HEADINGS = ("h1", "h2", "h3", "h4")

# A gallery: at least this many photos beside the headline, and fewer words of running text
# (outside captions, links and headings) than this, or than a few words per photo.
GALLERY_MIN_IMAGES = 5
GALLERY_MAX_WORDS = 150
_GALLERY_WORDS_PER_IMAGE = 15
_ICON_PIXELS = 64
_IMAGE_FILE = re.compile(r"\.(?:jpe?g|png|gif|webp|avif|tiff?)(?:[?#].*)?$", re.I)
_NOT_RUNNING_TEXT = frozenset(
    {
        "figure",
        "figcaption",
        "a",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "nav",
        "aside",
        "footer",
        "header",
        "form",
        "button",
        "select",
        "script",
        "style",
        "noscript",
        "template",
    }
)
_CAPTION_MARKER = re.compile(r"caption|credit|copyright|legend|bildunterschrift", re.I)
_OUTSIDE_CONTENT = frozenset({"nav", "aside", "footer", "header"})
_GALLERY_PATH = re.compile(
    r"(?:^|[/_.-])(?:\w*galler(?:y|ies)|\w*galerie|fotostrecken?|bilderstrecken?|slide-?shows?"
    r"|diashows?|in-pictures|photos|fotos|bilder)(?:$|[/_.-])",
    re.I,
)
_GALLERY_TYPES = frozenset({"imagegallery", "mediagallery"})


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


def _long_paragraphs_in(element: HtmlElement) -> int:
    return sum(
        sum(count_words(p.text_content())) >= _LONG_PARAGRAPH_WORDS for p in element.iter("p")
    )


def _is_single_article(page: Page) -> bool:
    """One `<article>` holds the running text and no list of linked headlines stands beside
    it: a blog or personal site that serves its one post at the site root."""
    articles = list(page.tree.iter("article"))
    if len(articles) != 1:
        return False
    article = articles[0]
    if _long_paragraphs_in(article) < _SINGLE_ARTICLE_LONG_PARAGRAPHS:
        return False
    teasers = 0
    for heading in page.tree.iter(*_HEADINGS):
        if heading.find(".//a[@href]") is not None and article not in heading.iterancestors():
            teasers += 1
    return teasers <= _MAX_TEASER_HEADINGS


def _in_content(element: HtmlElement) -> bool:
    return not any(a.tag in _OUTSIDE_CONTENT for a in element.iterancestors())


def _is_photo(img: HtmlElement, link: HtmlElement | None) -> bool:
    """An image shown as content: not an icon, and not a thumbnail linking to another page."""
    for size in (img.get("width"), img.get("height")):
        if size and size.strip().isdigit() and int(size) <= _ICON_PIXELS:
            return False
    if link is None:
        return True
    href = (link.get("href") or "").strip()
    return not href or href.startswith("#") or bool(_IMAGE_FILE.search(href))


def _running_words(element: HtmlElement, enough: int) -> int:
    """Words of running text under `element` (not captions, links, headings or chrome),
    counted until there are `enough`."""
    words = 0
    stack = [element]
    while stack and words < enough:
        node = stack.pop()
        if node.text:
            words += sum(count_words(node.text))
        for child in node:
            if isinstance(child.tag, str) and not (
                child.tag in _NOT_RUNNING_TEXT
                or _CAPTION_MARKER.search(f"{child.get('class', '')} {child.get('id', '')}")
            ):
                stack.append(child)
            if child.tail:
                words += sum(count_words(child.tail))
    return words


def _photo_container(page: Page) -> tuple[HtmlElement, int] | None:
    """The smallest element around the headline that holds several photos, and their count."""
    images = list(page.tree.iter("img"))
    if len(images) < GALLERY_MIN_IMAGES:
        return None
    headline = next((h for h in page.tree.iter("h1") if _in_content(h)), None)
    if headline is None:
        return None
    level = {a: n for n, a in enumerate(headline.iterancestors())}
    per_level = [0] * len(level)
    for img in images:
        link = shared = None
        for ancestor in img.iterancestors():
            if ancestor.tag in _OUTSIDE_CONTENT:
                break
            if link is None and ancestor.tag == "a":
                link = ancestor
            if shared is None and ancestor in level:
                shared = ancestor
        else:
            if shared is not None and _is_photo(img, link):
                per_level[level[shared]] += 1
    held = 0
    for container, count in zip(headline.iterancestors(), per_level, strict=True):
        held += count
        if container.tag in {"body", "html"}:
            return None
        if held >= GALLERY_MIN_IMAGES:
            return container, held
    return None


def _unlabelled_words(page: Page, sections: list[Section]) -> int:
    """Words of the main text that are not the text of a link, heading or caption: what is
    left when the extractor had nothing but a page's labels to go on."""
    labels = {
        clean_text(e.text_content())
        for e in page.tree.iter("a", "h1", "h2", "h3", "h4", "h5", "h6", "figcaption", "figure")
    }
    ordered = sorted(labels - {""}, key=len, reverse=True)
    words = 0
    for section in sections:
        for paragraph in section.paragraphs:
            text = clean_text(paragraph)
            for label in ordered:
                if label in text:
                    text = text.replace(label, " ")
            words += sum(count_words(text))
    return words


def _names_gallery(page: Page) -> bool:
    return bool(_GALLERY_PATH.search(urlsplit(page.url).path if page.url else "")) or (
        first_of_type(page.jsonld, _GALLERY_TYPES) is not None
    )


def gallery_reason(page: Page, sections: list[Section], declares: bool = False) -> str | None:
    """Why the page is a photo gallery: several photos around the headline with little running
    text beside their captions, there and in the main text. None when it is not one. A page
    that `declares` itself an article (photo stories do) must also call itself a gallery."""
    if declares and not _names_gallery(page):
        return None
    found = _photo_container(page)
    if found is None:
        return None
    container, photos = found
    limit = min(GALLERY_MAX_WORDS, _GALLERY_WORDS_PER_IMAGE * photos)
    words = _running_words(container, limit)
    if words >= limit:
        return None
    words = max(words, _unlabelled_words(page, sections))
    if words >= limit:
        return None
    return (
        f"photo gallery, not an article ({photos} images, "
        f"{words} words of running text beside their captions)"
    )


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
    gallery = gallery_reason(page, sections, declares)
    if gallery:
        return gallery
    parts = urlsplit(page.url) if page.url else None
    path = parts.path if parts else ""
    if not declares:
        if parts and path in {"", "/"} and not parts.query and not _is_single_article(page):
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
