"""Every extraction fixture under tests/fixtures/pages describes itself in a valid expected.json.

This does not run the extractor: it keeps the fixtures honest (schema, and every expected string
really occurs on its page) so they cannot rot while the extractor changes.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from html import unescape
from pathlib import Path
from typing import Annotated, Literal

import pytest
from lxml import html as lxml_html
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter

PAGES = Path(__file__).parent / "fixtures" / "pages"
FIXTURES = sorted(p for p in PAGES.iterdir() if p.is_dir())


def _timestamp(value: str) -> str:
    """A date (`2024-05-02`) or an ISO 8601 datetime with an explicit UTC offset."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        date.fromisoformat(value)
    elif datetime.fromisoformat(value).tzinfo is None:
        raise ValueError(f"{value!r} needs a UTC offset")
    return value


def _url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/]+\.test(/\S*)?", value):
        raise ValueError(f"{value!r} is not an absolute URL on a reserved .test host")
    return value


Timestamp = Annotated[str, AfterValidator(_timestamp)]
Url = Annotated[str, AfterValidator(_url)]
Text = Annotated[str, Field(min_length=1)]
ReasonWord = Annotated[str, Field(min_length=2, max_length=20)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExpectedAuthor(_Strict):
    name: Text
    role: str | None = None
    location: str | None = None
    agency: str | None = None


class ExpectedDateline(_Strict):
    place: str | None
    agency: str | None


class ExpectedImage(_Strict):
    url: Url
    caption: str | None = None


class ExpectedSection(_Strict):
    heading: str | None
    first_paragraph_startswith: Text


class ExpectedQuote(_Strict):
    text_startswith: Text
    speaker: str | None
    verb: str | None = None


class ExpectedArticle(_Strict):
    url: Url
    is_article: Literal[True]
    paywalled: bool = False
    title: Text
    authors: list[ExpectedAuthor] | None = None
    dateline: ExpectedDateline | None = None
    published: Timestamp | None = None
    modified: Timestamp | None = None
    language: Annotated[str, Field(pattern=r"^[a-z]{2}$")] | None = None
    site_name: str | None = None
    canonical_url: Url | None = None
    description: str | None = None
    keywords: list[Text] | None = None
    top_image: ExpectedImage | None = None
    sections: list[ExpectedSection] | None = None
    body_contains: Annotated[list[Text], Field(min_length=1)]
    body_excludes: list[Text] = Field(default_factory=list)
    quotes: list[ExpectedQuote] | None = None
    not_quotes: list[Text] = Field(default_factory=list)
    people: list[Text] = Field(default_factory=list)
    places: list[Text] = Field(default_factory=list)
    organizations: list[Text] = Field(default_factory=list)
    not_entities: list[Text] = Field(default_factory=list)


class ExpectedNotArticle(_Strict):
    url: Url
    is_article: Literal[False]
    reason_contains: ReasonWord | Annotated[list[ReasonWord], Field(min_length=1)]


Expected = Annotated[ExpectedArticle | ExpectedNotArticle, Field(discriminator="is_article")]
_EXPECTED = TypeAdapter(Expected)


def _load(fixture: Path) -> ExpectedArticle | ExpectedNotArticle:
    return _EXPECTED.validate_python(json.loads((fixture / "expected.json").read_text("utf-8")))


def _norm(text: str) -> str:
    return " ".join(unescape(text).split())


def _page_text(fixture: Path) -> str:
    """All the text a reader (or a naive scraper) could see, scripts and JSON-LD included."""
    tree = lxml_html.fromstring((fixture / "page.html").read_bytes())
    return _norm(tree.text_content())


def _raw(fixture: Path) -> str:
    return _norm((fixture / "page.html").read_text("utf-8"))


def test_there_are_enough_fixtures() -> None:
    kinds = [_load(f) for f in FIXTURES]
    assert sum(isinstance(k, ExpectedArticle) for k in kinds) >= 12
    assert sum(isinstance(k, ExpectedNotArticle) for k in kinds) >= 3


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_fixture_is_complete_and_sized_like_a_real_page(fixture: Path) -> None:
    assert sorted(p.name for p in fixture.iterdir()) == ["expected.json", "page.html"]
    lines = (fixture / "page.html").read_text("utf-8").count("\n")
    assert 100 <= lines <= 250, f"{fixture.name}: {lines} lines"
    assert re.fullmatch(r"[a-z0-9_]+", fixture.name)


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_expected_strings_occur_on_the_page(fixture: Path) -> None:
    expected = _load(fixture)
    if isinstance(expected, ExpectedNotArticle):
        return
    text, raw = _page_text(fixture), _raw(fixture)
    must_occur = [
        expected.title,
        *expected.body_contains,
        *expected.body_excludes,
        *expected.not_quotes,
        *expected.people,
        *expected.places,
        *expected.organizations,
        *(s.first_paragraph_startswith for s in expected.sections or []),
        *(s.heading for s in expected.sections or [] if s.heading),
        *(q.text_startswith for q in expected.quotes or []),
        *(a.name for a in expected.authors or []),
    ]
    for snippet in must_occur:
        assert _norm(snippet) in text, f"{fixture.name}: {snippet!r} is not on the page"
    for url in (expected.canonical_url, expected.top_image and expected.top_image.url):
        if url:
            path = url.split(".test", 1)[1]
            assert path in raw, f"{fixture.name}: {url!r} is not referenced by the page"
    body_excludes = {_norm(s) for s in expected.body_excludes}
    assert not body_excludes & {_norm(s) for s in expected.body_contains}


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_declared_language_matches_the_page(fixture: Path) -> None:
    expected = _load(fixture)
    if not isinstance(expected, ExpectedArticle) or expected.language is None:
        return
    tree = lxml_html.fromstring((fixture / "page.html").read_bytes())
    lang = tree.get("lang")
    if lang:
        assert lang.lower().split("-")[0] == expected.language


def test_schema_rejects_a_broken_expectation() -> None:
    good = json.loads((FIXTURES[0] / "expected.json").read_text("utf-8"))
    for broken in (
        {**good, "tittle": "typo"},
        {**good, "published": "2024-05-02T10:00:00"},
        {**good, "url": "https://real-site.example.com/x"},
        {"url": good["url"], "is_article": False},
    ):
        with pytest.raises(ValueError, match="validation error"):
            _EXPECTED.validate_python(broken)
