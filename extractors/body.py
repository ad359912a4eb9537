"""Main text via trafilatura, as ordered blocks (headings, paragraphs, list items) and sections.

trafilatura gets the shared tree (it copies it before cleaning, so the other extractors still
see the original page) with comments off: reader comments are not the article. Its XML body
keeps subheadings as `<head>`; a paragraph that is nothing but one bold run of a few words is
a subheading too, as many CMSs mark them up that way.
"""

from __future__ import annotations

import math
import re
import unicodedata

from lxml.etree import XPath, _Element
from trafilatura import bare_extraction
from trafilatura.settings import Document

from extractors.chrome import Block
from extractors.page import INVISIBLE, Page
from newsdesk.models import Section

_MAX_HEADING_WORDS = 25
_UNSPACED_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\u0e00-\u0e7f]")
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*|\d+(?:[.,]\d+)*")
_SHORT_MAIN_TEXT = 1000
_LAYOUT_TABLE = XPath("boolean(//table[.//h1 or .//td[count(.//p) >= 3]])")
WORDS_PER_MINUTE = 230
CHARACTERS_PER_MINUTE = 500


_LINE_BREAK = "\ue000"


def _text(element: _Element, skip: frozenset[str] = frozenset()) -> str:
    """Element text with `<lb/>` as line breaks; source newlines count only in code."""
    parts: list[str] = []
    keep_newlines = element.tag == "code"

    def walk(node: _Element) -> None:
        if node.text:
            parts.append(node.text)
        for child in node:
            if child.tag in skip:
                pass
            elif child.tag == "lb":
                parts.append(_LINE_BREAK)
            else:
                walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(element)
    text = "".join(parts)
    return _tidy(text.replace("\n", _LINE_BREAK) if keep_newlines else text)


def _tidy(text: str) -> str:
    """NFC, no invisible characters, whitespace collapsed within lines, no empty lines."""
    text = unicodedata.normalize("NFC", INVISIBLE.sub("", text))
    lines = (" ".join(line.split()) for line in text.split(_LINE_BREAK))
    return "\n".join(line for line in lines if line)


def _blocks_of(element: _Element, out: list[Block]) -> None:
    tag = element.tag
    if tag == "head":
        if text := _text(element):
            long = len(text.split()) > _MAX_HEADING_WORDS
            out.append(Block("paragraph" if long else "heading", text))
    elif tag == "list":
        for item in element.iter("item"):
            if text := _text(item, skip=frozenset({"list"})):
                out.append(Block("item", text))
    elif tag == "table":
        for row in element.iter("row"):
            cells = [_text(cell) for cell in row.iter("cell")]
            if text := " | ".join(c for c in cells if c):
                out.append(Block("paragraph", text))
    elif tag == "quote" and any(child.tag in {"p", "list", "head"} for child in element):
        for child in element:
            _blocks_of(child, out)
    elif text := _text(element):
        out.append(Block("paragraph", text))


def uses_layout_tables(page: Page) -> bool:
    """Old table layouts put the whole page, headline and story included, in table cells;
    trafilatura would then extract the table as one data table of page chrome."""
    return bool(_LAYOUT_TABLE(page.tree))


def _trafilatura(page: Page, tables: bool, *, fast: bool) -> Document | None:
    """trafilatura on the shared tree (it copies the tree before cleaning it)."""
    document = bare_extraction(
        page.tree,
        url=page.url or None,
        fast=fast,
        include_comments=False,
        include_formatting=False,
        include_tables=tables,
        include_images=False,
        with_metadata=False,
    )
    return document if isinstance(document, Document) else None


def extract_blocks(page: Page) -> list[Block]:
    """The main text as blocks in reading order; [] when trafilatura finds none.

    trafilatura runs in its fast mode first; only a short result (under 1,000 characters,
    where its main extractor most often missed the article) is redone with the readability
    and jusText comparisons. On the extraction-dev corpus this keeps the full mode's F1 at
    about three quarters of its cost."""
    tables = not uses_layout_tables(page)
    document = _trafilatura(page, tables, fast=True)
    if document is None or len(document.text or "") < _SHORT_MAIN_TEXT:
        document = _trafilatura(page, tables, fast=False)
    if document is None or document.body is None:
        return []
    blocks: list[Block] = []

    def add_loose(text: str | None) -> None:
        if text and (cleaned := _tidy(text)):
            blocks.append(Block("paragraph", cleaned))

    add_loose(document.body.text)
    for child in document.body:
        _blocks_of(child, blocks)
        add_loose(child.tail)
    return _restore_headings(page, blocks)


def _restore_headings(page: Page, blocks: list[Block]) -> list[Block]:
    """Put back the subheadings trafilatura lost. When it finds no article container it
    recovers the paragraphs alone; an `h2`-`h4` of the page that stands between two of
    the extracted paragraphs is then a subheading of the story."""
    if any(b.kind == "heading" for b in blocks) or len(blocks) < 3:
        return blocks
    elements = list(page.tree.iter("p", "h2", "h3", "h4"))
    if not any(e.tag != "p" for e in elements):
        return blocks
    order: dict[str, int] = {}
    for index, element in enumerate(elements):
        order.setdefault(_tidy(element.text_content()), index)
    located = [(i, order[b.text]) for i, b in enumerate(blocks) if b.text in order]
    if len(located) < 2:
        return blocks
    first, last = located[0][1], located[-1][1]
    before: dict[int, list[Block]] = {}
    for index in range(first + 1, last):
        element = elements[index]
        text = _tidy(element.text_content())
        if element.tag == "p" or not text or len(text.split()) > _MAX_HEADING_WORDS:
            continue
        block_index = next(i for i, position in located if position > index)
        before.setdefault(block_index, []).append(Block("heading", text))
    if not before:
        return blocks
    restored: list[Block] = []
    for i, block in enumerate(blocks):
        restored.extend(before.get(i, []))
        restored.append(block)
    return restored


def build_sections(blocks: list[Block]) -> list[Section]:
    """Blocks grouped under their headings. A heading directly followed by another keeps its
    (empty) section, so no heading text is lost; a trailing one is dropped."""
    sections: list[Section] = []
    current = Section()
    for block in blocks:
        if block.kind == "heading":
            if current.paragraphs or current.heading:
                sections.append(current)
            current = Section(heading=block.text)
        else:
            current.paragraphs.append(block.text)
    if current.paragraphs:
        sections.append(current)
    return sections


def body_text(sections: list[Section]) -> str:
    """Paragraphs separated by blank lines, each heading on its own line before its section."""
    parts: list[str] = []
    for section in sections:
        if section.heading:
            parts.append(section.heading)
        parts.extend(section.paragraphs)
    return "\n\n".join(parts)


def count_words(text: str) -> tuple[int, int]:
    """(words, characters of scripts written without spaces: Chinese, Japanese, Thai)."""
    unspaced = len(_UNSPACED_CHAR.findall(text))
    words = len(_WORD.findall(_UNSPACED_CHAR.sub(" ", text)))
    return words, unspaced


def reading_minutes(words: int, unspaced: int) -> int:
    """At ~230 words or ~500 CJK characters a minute, and at least one minute."""
    return max(1, math.ceil(words / WORDS_PER_MINUTE + unspaced / CHARACTERS_PER_MINUTE))
