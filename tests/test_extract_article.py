"""`extract_article` end to end: the reference article of the demo site, other demo pages, and
pages that hold no article or are not HTML at all."""

from __future__ import annotations

import contextlib
import gzip
from datetime import datetime

import pytest

from extractors.article import extract_article
from newsdesk.demo_site import REFERENCE_PATH, build_site, find_seed_article
from newsdesk.errors import NotAnArticle
from newsdesk.models import ArticleFields

BASE = "http://127.0.0.1:8765"
SEED = find_seed_article()
needs_seed = pytest.mark.skipif(
    SEED is None,
    reason="seed article absent: set NEWSDESK_SEED_ARTICLE or provide ../shared/seed/article.txt",
)


@pytest.fixture(scope="module")
def site() -> dict[str, tuple[bytes, str]]:
    return build_site(BASE, SEED)


@pytest.fixture(scope="module")
def reference(site: dict[str, tuple[bytes, str]]) -> ArticleFields:
    if SEED is None:
        pytest.skip("seed article absent")
    return extract_article(site[REFERENCE_PATH][0], BASE + REFERENCE_PATH, charset="utf-8")


@needs_seed
def test_reference_title_and_authors(reference: ArticleFields) -> None:
    assert reference.title == "Honeymoon between Japan, U.S. leaders stands out"
    assert [(a.name, a.location) for a in reference.authors] == [
        ("Kenji Minemura", "Washington"),
        ("Shigeki Tosa", "Washington"),
        ("Kotaro Ono", "Tokyo"),
    ]
    assert reference.provenance["title"] in {"json-ld", "h1", "og:title"}
    assert reference.provenance["authors"] == "byline-element"


@needs_seed
def test_reference_sections_and_body(reference: ArticleFields) -> None:
    headings = [s.heading for s in reference.sections]
    assert headings == [
        None,
        "Trust built at meeting last fall",
        "Schisms in the U.S. administration",
    ]
    body = reference.body
    assert "Little Rocket Man" in body
    for chrome in ("print PRINT", "Trending Japan", "Ambassador\n", "Share on Twitter"):
        assert chrome not in body
    assert not any(p.strip() in {"Ambassador", "Ukraine", "COVID-19"} for p in body.split("\n"))
    assert not body.startswith("By ")
    assert reference.lede is not None
    assert reference.lede.startswith("During their teleconference")
    assert reference.word_count > 1000
    assert reference.reading_time_minutes == -(-reference.word_count // 230)


@needs_seed
def test_reference_metadata(reference: ArticleFields) -> None:
    assert reference.published_at == datetime.fromisoformat("2017-10-30T17:20:00+09:00")
    assert reference.published_at.tzinfo is not None
    assert reference.language == "en"
    assert reference.site_name == "The Meridian Shimbun"
    assert reference.canonical_url == BASE + REFERENCE_PATH
    assert reference.top_image is not None
    assert reference.top_image.url.endswith("/static/img/politics/summit-20171030.jpg")
    assert "diplomacy" in reference.keywords
    assert reference.dateline is None
    for field in ("title", "published_at", "language", "site_name", "canonical_url"):
        assert field in reference.provenance


def test_demo_wire_story_has_dateline_and_agency(site: dict[str, tuple[bytes, str]]) -> None:
    path = "/national/2024/03/27/tokyo-cherry-blossoms-early-bloom.html"
    fields = extract_article(site[path][0], BASE + path)
    assert fields.dateline is not None
    assert (fields.dateline.place, fields.dateline.agency) == ("Tokyo", "Kyodo")
    assert fields.dateline.raw == "TOKYO (Kyodo) --"
    assert fields.lede is not None
    assert fields.lede.startswith("TOKYO (Kyodo) -- Cherry trees")


def test_demo_staff_writer_byline(site: dict[str, tuple[bytes, str]]) -> None:
    path = "/sports/2024/04/15/sendai-marathon-record-field.html"
    fields = extract_article(site[path][0], BASE + path)
    assert [(a.name, a.role) for a in fields.authors] == [("Takumi Sato", "Staff Writer")]
    assert fields.dateline is not None
    assert fields.dateline.place == "Sendai"


def test_home_page_is_not_an_article(site: dict[str, tuple[bytes, str]]) -> None:
    with pytest.raises(NotAnArticle, match="home page"):
        extract_article(site["/"][0], BASE + "/")


def _page(body: str, head: str = "<title>A page</title>") -> bytes:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>".encode()


STORY = "".join(
    f"<p>Paragraph {i} of a story about the harbour ferries that the city plans to replace "
    "with electric boats by the end of the decade, as the council confirmed on Tuesday.</p>"
    for i in range(6)
)


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        (b"", "empty"),
        (b"   \n ", "empty"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3 binary", "PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
        (gzip.compress(b"<html><body><p>compressed</p></body></html>"), "gzip"),
        (bytes(range(256)) * 20, "binary"),
        (_page("<nav><a href='/'>Home</a></nav>"), "text"),
        (_page("<p>Short note.</p>"), "text"),
    ],
)
def test_pages_without_an_article(page: bytes, reason: str) -> None:
    with pytest.raises(NotAnArticle) as caught:
        extract_article(page, "https://news.test/story/1")
    assert reason.lower() in caught.value.reason.lower()
    assert caught.value.url == "https://news.test/story/1"


def test_soft_404_is_not_an_article() -> None:
    page = _page(
        "<h1>Page not found</h1><p>Sorry, the page you were looking for does not exist. It may "
        "have been moved or deleted. Try the search box or go back to the home page.</p>",
        "<title>404 - Page not found | The Daily</title>",
    )
    with pytest.raises(NotAnArticle, match="error page"):
        extract_article(page, "https://news.test/2024/05/02/story.html")


def test_listing_paths_are_not_articles() -> None:
    page = _page(STORY)
    with pytest.raises(NotAnArticle, match="listing"):
        extract_article(page, "https://news.test/tag/ferries/")


def test_gigantic_page_is_capped_and_still_extracted() -> None:
    padding = "<div style='display:none'>" + "x" * 6_000_000 + "</div>"
    page = _page("<article><h1>Ferries go electric</h1>" + STORY + "</article>" + padding)
    fields = extract_article(page, "https://news.test/2024/05/02/ferries.html")
    assert "Paragraph 5" in fields.body


def test_truncated_page_keeps_what_arrived() -> None:
    whole = _page("<article><h1>Ferries go electric</h1>" + STORY + "</article>")
    fields = extract_article(whole[: len(whole) - 300], "https://news.test/2024/05/02/f.html")
    assert "Paragraph 3" in fields.body


@pytest.mark.parametrize(
    ("encoding", "declared", "http_charset"),
    [
        ("utf-8", "utf-8", None),
        ("utf-8", "iso-8859-1", "iso-8859-1"),  # mis-declared: the bytes are UTF-8
        ("cp1252", "windows-1252", None),
        ("cp1252", "utf-8", "utf-8"),  # mis-declared the other way
        ("iso-8859-15", None, None),
        ("shift_jis", "shift_jis", None),
    ],
)
def test_charsets(encoding: str, declared: str | None, http_charset: str | None) -> None:
    text = "Die Fähre über die Elbe fährt künftig elektrisch, sagte Senatorin Müller." * 3
    if encoding == "shift_jis":
        text = "東京のフェリーは電気で走ります。市は火曜日に計画を発表しました。" * 6
    meta = f'<meta charset="{declared}">' if declared else ""
    html = f"<html><head>{meta}<title>Ferry</title></head><body><article><h1>Ferry</h1>"
    html += "".join(f"<p>{text}</p>" for _ in range(4)) + "</article></body></html>"
    fields = extract_article(
        html.encode(encoding), "https://news.test/a/2024/fahre.html", charset=http_charset
    )
    assert text[:20] in fields.body


def test_never_raises_anything_but_not_an_article() -> None:
    for page in (b"<html>" * 10_000, b"<<<>>>" * 100, "<p>\x00\x01</p>", b"\xff\xfe\x00"):
        with contextlib.suppress(NotAnArticle):
            extract_article(page, "https://news.test/x")
