"""Every fixture page (tests/fixtures/pages/*/) through `extract_article`, compared with the
fields of its expected.json that the article extractor owns, by the rules of the fixtures'
README. Quotes and entities have their own test (test_quotes_entities_fixtures.py)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from extractors.article import extract_article
from newsdesk.errors import NotAnArticle
from newsdesk.models import ArticleFields

PAGES = Path(__file__).parent / "fixtures" / "pages"
CASES = sorted(p.parent for p in PAGES.glob("*/expected.json"))


def _ws(text: str | None) -> str | None:
    return re.sub(r"\s+", " ", text).strip() if text is not None else None


def _load(page: Path) -> dict[str, Any]:
    expected: dict[str, Any] = json.loads((page / "expected.json").read_text("utf-8"))
    return expected


def _extract(page: Path) -> tuple[dict[str, Any], ArticleFields]:
    expected = _load(page)
    return expected, extract_article((page / "page.html").read_bytes(), expected["url"])


def _article_cases() -> list[Path]:
    return [p for p in CASES if _load(p).get("is_article", True)]


def _not_article_cases() -> list[Path]:
    return [p for p in CASES if not _load(p).get("is_article", True)]


def _same_date(expected: str | None, got: datetime | None) -> bool:
    if expected is None or got is None:
        return expected is None and got is None
    if len(expected) == 10:
        return got.date() == date.fromisoformat(expected)
    return got == datetime.fromisoformat(expected)


def _first_paragraph(text: str, fields: ArticleFields) -> str:
    """The README: a dateline is not part of the first paragraph's text."""
    raw = fields.dateline.raw if fields.dateline else None
    if raw and text.startswith(raw):
        return text[len(raw) :].lstrip()
    return text


def _problems(expected: dict[str, Any], fields: ArticleFields) -> list[str]:
    problems: list[str] = []

    def check(ok: bool, what: str, want: Any, got: Any) -> None:
        if not ok:
            problems.append(f"{what}: expected {want!r}, got {got!r}")

    for key in ("title", "site_name", "canonical_url", "description"):
        if key in expected:
            got = getattr(fields, key)
            check(_ws(got) == _ws(expected[key]), key, expected[key], got)
    if "language" in expected:
        check(fields.language == expected["language"], "language", expected["language"], None)
    for key, attr in (("published", "published_at"), ("modified", "modified_at")):
        if key in expected:
            got = getattr(fields, attr)
            check(_same_date(expected[key], got), key, expected[key], got)
    if "authors" in expected:
        names = [a.name for a in fields.authors]
        want_names = [a["name"] for a in expected["authors"]]
        check(names == want_names, "authors", want_names, names)
        for want, got_author in zip(expected["authors"], fields.authors, strict=False):
            for key, value in want.items():
                got_value = getattr(got_author, key)
                check(got_value == value, f"author {want['name']} {key}", value, got_value)
    if "dateline" in expected:
        want_line, got_line = expected["dateline"], fields.dateline
        if want_line is None or got_line is None:
            check(want_line is None and got_line is None, "dateline", want_line, got_line)
        else:
            for key in ("place", "agency"):
                want_part, got_part = want_line.get(key), getattr(got_line, key)
                same = (want_part or "").casefold() == (got_part or "").casefold()
                check(same, f"dateline {key}", want_part, got_part)
    if "keywords" in expected:
        have = {k.casefold() for k in fields.keywords}
        missing = [k for k in expected["keywords"] if k.casefold() not in have]
        check(not missing, "keywords", expected["keywords"], fields.keywords)
    if "top_image" in expected:
        want_image, got_image = expected["top_image"], fields.top_image
        if want_image is None or got_image is None:
            check(want_image is None and got_image is None, "top_image", want_image, got_image)
        else:
            check(got_image.url == want_image["url"], "top_image url", want_image["url"], got_image)
            want_caption, got_caption = want_image.get("caption"), got_image.caption
            if want_caption is None:
                check(got_caption is None, "top_image caption", None, got_caption)
            else:
                ok = got_caption is not None and _ws(want_caption) in (_ws(got_caption) or "")
                check(ok, "top_image caption", want_caption, got_caption)
    if "sections" in expected:
        headings = [s.heading for s in fields.sections]
        want_headings = [s["heading"] for s in expected["sections"]]
        check(headings == want_headings, "section headings", want_headings, headings)
        for want, section in zip(expected["sections"], fields.sections, strict=False):
            first = _first_paragraph(section.paragraphs[0], fields) if section.paragraphs else ""
            start = _ws(want["first_paragraph_startswith"]) or ""
            ok = (_ws(first) or "").startswith(start)
            check(ok, f"section {want['heading']!r} first paragraph", start, first[:80])
    body = _ws(fields.body) or ""
    for snippet in expected.get("body_contains", []):
        check(_ws(snippet) in body, "body contains", snippet, None)
    for snippet in expected.get("body_excludes", []):
        check(_ws(snippet) not in body, "body excludes", snippet, None)
    return problems


@pytest.mark.parametrize("page", _article_cases(), ids=lambda p: p.name)
def test_article_fixture(page: Path) -> None:
    expected, fields = _extract(page)
    problems = _problems(expected, fields)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", _not_article_cases(), ids=lambda p: p.name)
def test_not_article_fixture(page: Path) -> None:
    expected = _load(page)
    with pytest.raises(NotAnArticle) as caught:
        extract_article((page / "page.html").read_bytes(), expected["url"])
    words = expected.get("reason_contains")
    if words:
        options = words if isinstance(words, list) else [words]
        reason = caught.value.reason.casefold()
        assert any(w.casefold() in reason for w in options), caught.value.reason
    assert caught.value.url == expected["url"]


def test_every_fixture_is_covered() -> None:
    assert len(CASES) >= 10
