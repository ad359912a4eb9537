"""The per-field extractors on small pages: language, dates, title, chrome removal, charset
decoding, JSON-LD and images."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from extractors.body import count_words, reading_minutes
from extractors.chrome import Block, remove_chrome
from extractors.dates import extract_modified, extract_published, parse_datetime
from extractors.decode import decode_page
from extractors.headline import extract_title, strip_site_name
from extractors.images import extract_top_image
from extractors.language import detect_language, extract_language
from extractors.metadata import extract_canonical_url, extract_keywords, extract_site_name
from extractors.page import Page, load_page

JST = timezone(timedelta(hours=9))
SAMPLES = {
    "en": "The city council said on Tuesday that it would replace the old ferries with "
    "electric boats, and the first of them will enter service before the end of the year.",
    "de": "Die Stadt hat am Dienstag mitgeteilt, dass die alten Fähren bis zum Ende des "
    "Jahrzehnts durch elektrische Schiffe ersetzt werden, die ersten sind noch in diesem Jahr "
    "im Einsatz.",
    "fr": "La ville a annoncé mardi que les anciens bateaux seront remplacés par des navires "
    "électriques, et les premiers seront mis en service avant la fin de cette année.",
    "es": "El ayuntamiento anunció el martes que los viejos barcos serán sustituidos por "
    "embarcaciones eléctricas y que las primeras entrarán en servicio antes de que termine "
    "el año.",
    "it": "Il comune ha annunciato martedì che i vecchi traghetti saranno sostituiti da "
    "battelli elettrici, e i primi entreranno in servizio prima della fine dell'anno.",
    "pt": "A câmara anunciou na terça-feira que as antigas balsas serão substituídas por "
    "barcos elétricos, e os primeiros vão entrar em serviço antes do fim do ano.",
    "nl": "De gemeente heeft dinsdag bekendgemaakt dat de oude veerboten worden vervangen "
    "door elektrische schepen, en de eerste zijn voor het einde van het jaar in gebruik.",
    "ja": "東京都は火曜日、古いフェリーを電気船に置き換えると発表した。"
    "最初の船は年内に運航を始める予定だ。",
    "zh": "市政府星期二宣布，旧渡轮将由电动船取代，第一批船将在年底前投入使用。",
    "ko": "시는 화요일 오래된 여객선을 전기 선박으로 교체하겠다고 발표했으며 "
    "첫 번째 선박은 연말 전에 운항을 시작한다.",
    "ru": "Городские власти во вторник сообщили, что старые паромы будут заменены "
    "электрическими судами, и первые из них начнут работу до конца года.",
}


def _page(html: str, url: str = "https://news.test/story.html", lang: str = "") -> Page:
    attribute = f' lang="{lang}"' if lang else ""
    return load_page(f"<!DOCTYPE html><html{attribute}>{html}</html>".encode(), url)


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_detect_language(language: str) -> None:
    detected = detect_language(SAMPLES[language] * 2)
    assert detected is not None
    assert detected[0] == language


def test_language_cross_checked_with_html_lang() -> None:
    german = _page("<body><p>x</p></body>", lang="de")
    # the text wins over a template default that it clearly contradicts
    en_page = _page("<body><p>x</p></body>", lang="en")
    found = extract_language(en_page, SAMPLES["de"] * 2)
    assert found is not None
    assert (found.value, found.method) == ("de", "text")
    # a text too short to tell defers to the declaration
    short = _page("<body><p>x</p></body>", lang="pt-BR")
    found = extract_language(short, "Ok.")
    assert found is not None
    assert (found.value, found.method) == ("pt", "html-lang")
    agreed = extract_language(german, SAMPLES["de"])
    assert agreed is not None
    assert agreed.value == "de"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "2017-10-30T17:20:00+09:00",
            datetime(2017, 10, 30, 17, 20, tzinfo=timezone(timedelta(hours=9))),
        ),
        ("2017-10-30T08:20:00Z", datetime(2017, 10, 30, 8, 20, tzinfo=UTC)),
        ("2017-10-30", datetime(2017, 10, 30, tzinfo=UTC)),
        (
            "March 24, 2025 at 16:40 JST",
            datetime(2025, 3, 24, 16, 40, tzinfo=timezone(timedelta(hours=9))),
        ),
        ("1985-01-01", None),
        ("2999-01-01", None),
        ("not a date", None),
        ("5", None),
    ],
)
def test_parse_datetime(text: str, expected: datetime | None) -> None:
    assert parse_datetime(text) == expected


def test_dates_from_jsonld_keep_time_and_offset() -> None:
    page = _page(
        '<head><script type="application/ld+json">{"@context": "https://schema.org", '
        '"@type": "NewsArticle", "headline": "Ferries", "datePublished": '
        '"2024-05-02T14:37:00+02:00", "dateModified": "2024-05-02T18:02:00+02:00"}</script>'
        "</head><body><p>Text.</p></body>"
    )
    published, modified = extract_published(page), extract_modified(page)
    assert published is not None
    assert modified is not None
    assert published.value == datetime.fromisoformat("2024-05-02T14:37:00+02:00")
    assert published.method == "json-ld"
    assert published.value.utcoffset() == timedelta(hours=2)
    assert modified.value.hour == 18


def test_dates_from_meta_time_and_url() -> None:
    meta = _page(
        '<head><meta property="article:published_time" content="2024-03-05T10:00:00-07:00">'
        "</head><body><p>Text.</p></body>"
    )
    found = extract_published(meta)
    assert found is not None
    assert found.method == "meta:article:published_time"
    time_element = _page(
        '<body><article><time datetime="2023-06-01T09:30:00+01:00">1 June</time>'
        "<p>Text.</p></article></body>",
        url="https://news.test/story",
    )
    found = extract_published(time_element)
    assert found is not None
    assert (found.method, found.value.hour) == ("time-element", 9)
    from_url = _page("<body><p>Text.</p></body>", url="https://news.test/2021/02/03/story.html")
    found = extract_published(from_url)
    assert found is not None
    assert found.value.date().isoformat() == "2021-02-03"


def test_future_and_ancient_dates_are_rejected() -> None:
    page = _page(
        '<head><meta property="article:published_time" content="2999-01-01T00:00:00Z">'
        '<meta property="article:modified_time" content="1970-01-01T00:00:00Z"></head>'
        "<body><p>Text.</p></body>",
        url="https://news.test/story",
    )
    assert extract_published(page) is None
    assert extract_modified(page) is None


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        (
            "Honeymoon between Japan, U.S. leaders stands out | The Asahi Shimbun: Breaking News",
            "Honeymoon between Japan, U.S. leaders stands out",
        ),
        ("The Asahi Shimbun - Honeymoon stands out", "Honeymoon stands out"),
        (
            "Teil 49 – Büssing-NAG (Baujahre 1931 – 1945)",
            "Teil 49 – Büssing-NAG (Baujahre 1931 – 1945)",
        ),
    ],
)
def test_strip_site_name(title: str, expected: str) -> None:
    assert strip_site_name(title, ["theasahishimbun", "asahi"]) == expected


def test_title_prefers_the_metadata_title_inside_a_kickered_h1() -> None:
    page = _page(
        "<head><title>Big storm hits coast | The Daily</title>"
        '<meta property="og:site_name" content="The Daily"></head>'
        '<body><article><h1><span class="kicker">Weather</span> Big storm hits coast</h1>'
        "<p>Text.</p></article></body>"
    )
    found = extract_title(page, "The Daily")
    assert found is not None
    assert (found.value, found.method) == ("Big storm hits coast", "title-tag")


def test_remove_chrome() -> None:
    story = [
        Block("paragraph", f"Paragraph {i} of the story, long enough to be text.") for i in range(5)
    ]
    blocks = [
        Block("paragraph", "print PRINT"),
        Block("paragraph", "Politics"),
        Block("heading", "Ferries go electric"),
        Block("paragraph", "October 30, 2017 at 17:20 JST"),
        *story[:2],
        Block("paragraph", "READ MORE: Buses get new routes"),
        Block("paragraph", "Photo: Getty Images"),
        *story[2:],
        Block("paragraph", "Additional reporting by Jane Doe."),
        Block("heading", "Related articles"),
        Block("item", "Buses get new routes"),
        Block("item", "Trains are late again"),
        Block("paragraph", "Follow The Daily on Twitter and Instagram."),
        Block("item", "Ambassador"),
        Block("item", "Ukraine"),
        Block("item", "COVID-19"),
        Block("item", "Trending Japan"),
    ]
    kept = remove_chrome(blocks, "Ferries go electric")
    assert [b.text for b in kept] == [b.text for b in story]


def test_remove_chrome_keeps_a_story_that_ends_in_a_list() -> None:
    blocks = [
        Block("paragraph", "The recipe needs the following and takes about an hour to bake."),
        Block("item", "Two cups of flour, sifted twice."),
        Block("item", "One cup of sugar."),
    ]
    assert remove_chrome(blocks) == blocks


def test_word_count_and_reading_time() -> None:
    assert count_words("The ferry's 27 boats go electric.") == (6, 0)
    assert count_words("東京のフェリー") == (0, 7)
    assert reading_minutes(10, 0) == 1
    assert reading_minutes(461, 0) == 3
    assert reading_minutes(0, 1000) == 2


@pytest.mark.parametrize(
    ("data", "charset", "text", "method"),
    [
        ("Fähre".encode(), None, "Fähre", "utf-8-valid"),
        ("Fähre".encode(), "iso-8859-1", "Fähre", "utf-8-over-http"),
        ("Fähre".encode("cp1252"), "windows-1252", "Fähre", "http"),
        (b'<meta charset="iso-8859-1">' + "Fähre".encode("latin-1"), None, "Fähre", "meta"),
        ("\ufeffFähre".encode("utf-16"), None, "Fähre", "bom"),
        ("Fähre".encode() + b"\xff" + "ü".encode() * 40, "utf-8", "Fähre", "http"),
    ],
)
def test_decode_page(data: bytes, charset: str | None, text: str, method: str) -> None:
    decoded = decode_page(data, charset)
    assert text in decoded.text
    assert decoded.method == method


def test_jsonld_graph_references_are_followed() -> None:
    page = _page(
        '<head><script type="application/ld+json">{"@context": "https://schema.org", "@graph": ['
        '{"@type": "NewsMediaOrganization", "@id": "https://news.test/#org", "name": "The Daily"},'
        '{"@type": "ImageObject", "@id": "https://news.test/#img", "url": '
        '"https://news.test/a.jpg", "caption": "A ferry."},'
        '{"@type": "NewsArticle", "headline": "Ferries", "publisher": {"@id": '
        '"https://news.test/#org"}, "image": {"@id": "https://news.test/#img"}, '
        '"mainEntityOfPage": {"@id": "https://news.test/2024/05/02/ferries"}, '
        '"keywords": ["ferries", "energy"]}]}</script></head><body><p>x</p></body>'
    )
    site, image = extract_site_name(page), extract_top_image(page)
    canonical, keywords = extract_canonical_url(page), extract_keywords(page)
    assert site is not None
    assert site.value == "The Daily"
    assert image is not None
    assert (image.value.url, image.value.caption) == ("https://news.test/a.jpg", "A ferry.")
    assert canonical is not None
    assert canonical.value == "https://news.test/2024/05/02/ferries"
    assert keywords is not None
    assert keywords.value == ["ferries", "energy"]


def test_broken_jsonld_is_skipped() -> None:
    page = _page(
        '<head><script type="application/ld+json">{"@type": "NewsArticle", "headline": '
        '"Ferries",}</script><script type="application/ld+json">{not json</script>'
        "</head><body><p>x</p></body>"
    )
    assert page.article_ld is not None
    assert page.article_ld["headline"] == "Ferries"


def test_top_image_caption_from_a_resized_copy() -> None:
    page = _page(
        '<head><meta property="og:image" content="/img/ferry-1200x630.jpg"></head><body>'
        '<article><div class="photo"><img src="/img/ferry.jpg">'
        '<p class="photo-caption">The new ferry at the pier.</p></div><p>x</p></article></body>'
    )
    found = extract_top_image(page)
    assert found is not None
    assert found.value.url == "https://news.test/img/ferry-1200x630.jpg"
    assert found.value.caption == "The new ferry at the pier."
    assert found.method == "og:image"
