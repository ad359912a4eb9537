"""The one entry point that composes the per-field extractors.

The page is decoded and parsed once (`load_page`); trafilatura, htmldate and every field
function share that tree. Each field records in `provenance` the method that produced it.

Body conventions: `body` is the sections' paragraphs separated by blank lines, each subheading
on its own line before its paragraphs. Not body paragraphs: a `By ...` byline block, a repeat
of the headline, a standfirst that repeats the description, image captions and page chrome
(see `extractors.chrome`). The dateline stays at the start of the first paragraph (and of
`lede`), as agencies print it. `word_count` counts words, plus one per character of scripts
written without spaces (Chinese, Japanese, Thai).
"""

from __future__ import annotations

from typing import Any

from extractors.authors import extract_authors, is_byline_text
from extractors.body import body_text, build_sections, count_words, extract_blocks, reading_minutes
from extractors.chrome import Block, remove_chrome
from extractors.dateline import is_dateline_only, parse_dateline
from extractors.dates import extract_modified, extract_published
from extractors.entities import extract_entities, get_extractor
from extractors.fingerprint import fingerprint
from extractors.headline import extract_title
from extractors.images import caption_texts, extract_top_image
from extractors.language import extract_language
from extractors.metadata import (
    extract_canonical_url,
    extract_description,
    extract_keywords,
    extract_site_name,
    find_standfirst,
)
from extractors.page import Found, Page, load_page, text_key
from extractors.pagekind import not_article_reason
from extractors.quotes import extract_quotes
from newsdesk.errors import NotAnArticle
from newsdesk.models import ArticleFields, Entity, Quote

_BYLINE_SEARCH = 4
_FALLBACK_TITLE_WORDS = 12


def _fold_dateline(blocks: list[Block]) -> list[Block]:
    """A block holding only `TOKYO (Kyodo) --` is prefixed to the paragraph after it."""
    for i, block in enumerate(blocks[:3]):
        if block.kind == "paragraph" and is_dateline_only(block.text):
            rest = blocks[i + 1 :]
            if rest and rest[0].kind == "paragraph":
                merged = Block("paragraph", f"{block.text} {rest[0].text}")
                return [*blocks[:i], merged, *rest[1:]]
            return [*blocks[:i], *rest]
    return blocks


def _quotes_and_entities(
    paragraphs: list[str], provenance: dict[str, str], ner: str
) -> tuple[list[Quote], list[Entity]]:
    """The other extractors' results; a failure there costs those fields, not the article."""
    entities: list[Entity] = []
    quotes: list[Quote] = []
    try:
        entities = (
            get_extractor(ner)(paragraphs) if ner != "rules" else extract_entities(paragraphs)
        )
    except Exception as exc:
        provenance["entities"] = f"failed: {type(exc).__name__}"
    try:
        quotes = extract_quotes(paragraphs, entities)
    except Exception as exc:
        provenance["quotes"] = f"failed: {type(exc).__name__}"
    return quotes, entities


def _extract(page: Page, ner: str = "rules") -> ArticleFields:
    provenance: dict[str, str] = {"charset": page.encoding_method, "body": "trafilatura"}

    site_name = extract_site_name(page)
    title = extract_title(page, site_name.value if site_name else None)
    description = extract_description(page)
    standfirst = find_standfirst(page, description.value if description else None)
    standfirst_key = text_key(standfirst) if standfirst else None
    blocks = extract_blocks(page)
    first_texts = [b.text for b in blocks[:_BYLINE_SEARCH] if b.kind != "heading"]
    authors = extract_authors(page, first_texts)
    blocks = remove_chrome(
        blocks,
        title.value if title else None,
        captions=caption_texts(page),
        also_lead=lambda text: is_byline_text(text) or text_key(text) == standfirst_key,
    )
    blocks = _fold_dateline(blocks)
    sections = build_sections(blocks)
    body = body_text(sections)
    words, unspaced = count_words(body)
    reason = not_article_reason(page, sections, words + unspaced)
    if reason:
        raise NotAnArticle(reason, url=page.url)

    paragraphs = [p for s in sections for p in s.paragraphs]
    lede = paragraphs[0] if paragraphs else None
    dateline = parse_dateline(lede) if lede else None
    if dateline:
        provenance["dateline"] = "first-paragraph"
    if title is None:
        title = Found(" ".join((lede or "").split()[:_FALLBACK_TITLE_WORDS]), "lede")
    published, modified = extract_published(page), extract_modified(page)
    if published and modified and modified.value < published.value:
        modified = None
    language = extract_language(page, body)
    canonical = extract_canonical_url(page)
    keywords, top_image = extract_keywords(page), extract_top_image(page)
    found: Found[Any] | None
    for field, found in (
        ("title", title),
        ("site_name", site_name),
        ("authors", authors),
        ("published_at", published),
        ("modified_at", modified),
        ("language", language),
        ("description", description),
        ("canonical_url", canonical),
        ("keywords", keywords),
        ("top_image", top_image),
    ):
        if found is not None:
            provenance[field] = found.method
    quotes, entities = _quotes_and_entities(paragraphs, provenance, ner)
    prints = fingerprint(body)
    return ArticleFields(
        title=title.value,
        canonical_url=canonical.value if canonical else None,
        site_name=site_name.value if site_name else None,
        description=description.value if description else None,
        lede=lede,
        body=body,
        sections=sections,
        word_count=words + unspaced,
        reading_time_minutes=reading_minutes(words, unspaced),
        authors=authors.value if authors else [],
        dateline=dateline,
        published_at=published.value if published else None,
        modified_at=modified.value if modified else None,
        language=language.value if language else None,
        keywords=keywords.value if keywords else [],
        top_image=top_image.value if top_image else None,
        quotes=quotes,
        entities=entities,
        content_hash=prints.content_hash,
        simhash=prints.simhash,
        simhash_bands=prints.bands,
        provenance=provenance,
    )


def extract_article(
    page: bytes | str, url: str, *, charset: str | None = None, ner: str = "rules"
) -> ArticleFields:
    """Extract every field from one page. Raises `NotAnArticle` (never anything else) when the
    page holds no article. `ner` names the entity extractor ("rules" or "spacy:<model>")."""
    try:
        return _extract(load_page(page, url, charset), ner)
    except NotAnArticle as exc:
        if exc.url is None:
            raise NotAnArticle(exc.reason, url=url) from exc
        raise
    except Exception as exc:
        raise NotAnArticle(f"extraction failed: {type(exc).__name__}: {exc}", url=url) from exc
