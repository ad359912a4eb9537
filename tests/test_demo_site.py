"""The bundled demo site, served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest

from newsdesk.demo_site import (
    REFERENCE_PATH,
    build_site,
    find_seed_article,
    parse_seed_article,
)
from newsdesk.demo_site.server import serve_site
from newsdesk.errors import ConfigError

SEED = find_seed_article()
needs_seed = pytest.mark.skipif(
    SEED is None,
    reason="seed article absent: set NEWSDESK_SEED_ARTICLE or provide ../shared/seed/article.txt",
)


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[str, httpx.Client]]:
    with serve_site() as base_url, httpx.Client(base_url=base_url, timeout=10) as client:
        yield base_url, client


def _article_paths(base_url: str, client: httpx.Client) -> list[str]:
    feed = feedparser.parse(client.get("/feed.xml").content)
    return [e.link.removeprefix(base_url) for e in feed.entries]


def test_home_page_links_every_article(site: tuple[str, httpx.Client]) -> None:
    base_url, client = site
    home = client.get("/")
    assert home.status_code == 200
    assert home.headers["content-type"].startswith("text/html")
    assert 'property="og:type" content="website"' in home.text
    paths = _article_paths(base_url, client)
    assert len(paths) >= 6
    for path in paths:
        assert f'href="{base_url}{path}"' in home.text


def test_rss_feed_lists_absolute_links_that_resolve(site: tuple[str, httpx.Client]) -> None:
    base_url, client = site
    response = client.get("/feed.xml")
    assert response.headers["content-type"].startswith("application/rss+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "rss20"
    for entry in feed.entries:
        assert entry.link.startswith(base_url + "/")
        assert entry.id == entry.link
        assert entry.title
        assert entry.summary
        assert entry.published_parsed
        page = client.get(entry.link)
        assert page.status_code == 200
        assert f"<h1>{entry.title}</h1>" in page.text


def test_article_pages_are_distinct_and_sized_like_news(site: tuple[str, httpx.Client]) -> None:
    base_url, client = site
    for path in _article_paths(base_url, client):
        if path == REFERENCE_PATH:
            continue
        text = client.get(path).text
        assert '<html lang="en">' in text
        body = re.search(r'<div class="article-body">(.*?)</div>', text, re.S)
        assert body is not None, path
        words = len(re.sub(r"<[^>]+>", " ", body.group(1)).split())
        assert 300 <= words <= 600, (path, words)
        assert "$" not in text, f"unfilled placeholder in {path}"


def test_demo_pages_cover_metadata_variants(site: tuple[str, httpx.Client]) -> None:
    _, client = site
    wire = client.get("/national/2024/03/27/tokyo-cherry-blossoms-early-bloom.html").text
    assert "<p>TOKYO (Kyodo) -- " in wire
    two_authors = client.get("/science/2024/02/08/ogasawara-seamount-survey.html").text
    assert '<p class="byline">By Aiko Tanaka and Daniel Reyes</p>' in two_authors
    json_ld_only = client.get("/culture/2024/01/19/kyoto-kiln-revival.html").text
    metas = re.findall(r"<meta (\w+)=\"([^\"]*)\"", json_ld_only)
    assert metas == [("charset", "utf-8"), ("name", "viewport")]
    assert '"@type": "NewsArticle"' in json_ld_only


def test_partner_atom_feed_adds_tracking_to_reference_link(
    site: tuple[str, httpx.Client],
) -> None:
    base_url, client = site
    response = client.get("/partner/feed.xml")
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    links = [e.link for e in feed.entries]
    assert links
    assert all(link.startswith(base_url + "/") for link in links)
    if SEED is not None:
        assert f"{base_url}{REFERENCE_PATH}?utm_source=x#top" in links
        assert client.get(f"{REFERENCE_PATH}?utm_source=x").status_code == 200


def test_unknown_path_is_404(site: tuple[str, httpx.Client]) -> None:
    _, client = site
    assert client.get("/no/such/page.html").status_code == 404


def test_conditional_get_returns_304(site: tuple[str, httpx.Client]) -> None:
    _, client = site
    first = client.get("/feed.xml")
    etag = first.headers["etag"]
    assert first.headers["last-modified"]
    again = client.get("/feed.xml", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert client.get("/feed.xml", headers={"If-None-Match": f"W/{etag}"}).status_code == 304
    assert client.get("/feed.xml", headers={"If-None-Match": '"other"'}).status_code == 200
    since = client.get("/feed.xml", headers={"If-Modified-Since": first.headers["last-modified"]})
    assert since.status_code == 304


def test_head_has_headers_but_no_body(site: tuple[str, httpx.Client]) -> None:
    _, client = site
    response = client.head("/")
    assert response.status_code == 200
    assert int(response.headers["content-length"]) > 0
    assert response.content == b""


def test_serve_site_serves_given_pages_and_releases_port() -> None:
    pages = {"/x": (b"hello", "text/plain")}
    with serve_site(pages) as base_url:
        assert httpx.get(base_url + "/x").text == "hello"
        assert httpx.get(base_url + "/").status_code == 404
    with pytest.raises(httpx.ConnectError):
        httpx.get(base_url + "/x", timeout=2)


def test_without_seed_reference_page_is_left_out() -> None:
    pages = build_site("http://127.0.0.1:1", None)
    assert REFERENCE_PATH not in pages
    assert REFERENCE_PATH.encode() not in pages["/feed.xml"][0]
    assert REFERENCE_PATH.encode() not in pages["/partner/feed.xml"][0]
    assert REFERENCE_PATH.encode() not in pages["/"][0]


def test_seed_parser_is_generic() -> None:
    text = (
        "print PRINT\n\n\nA headline here\n\nBy Ann Lee in Oslo\n\n"
        "First paragraph “with quotes” & <tags>.\n\n"
        "A short subheading\n\nSecond paragraph ends here.\n\n"
        "  • Economy\n  • Trending Norway"
    )
    parsed = parse_seed_article(text)
    assert parsed.toolbar == ["print PRINT"]
    assert parsed.title == "A headline here"
    assert parsed.byline == "By Ann Lee in Oslo"
    assert parsed.blocks == [
        ("p", "First paragraph “with quotes” & <tags>."),
        ("h2", "A short subheading"),
        ("p", "Second paragraph ends here."),
    ]
    assert parsed.tags == ["Economy"]
    assert parsed.boxes == ["Trending Norway"]
    with pytest.raises(ConfigError, match="empty"):
        parse_seed_article("\n\n")


def test_unreadable_seed_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read seed"):
        build_site("http://127.0.0.1:1", tmp_path / "missing.txt")


@needs_seed
def test_reference_page_looks_like_the_scraped_newspaper_page(
    site: tuple[str, httpx.Client],
) -> None:
    base_url, client = site
    assert SEED is not None
    seed = parse_seed_article(SEED.read_text(encoding="utf-8"))
    page = client.get(REFERENCE_PATH)
    assert page.status_code == 200
    text = page.text
    assert '<html lang="en">' in text
    assert "<h1>Honeymoon between Japan, U.S. leaders stands out</h1>" in text
    assert (
        '<p class="byline">By Kenji Minemura, Shigeki Tosa in Washington; Kotaro Ono in Tokyo</p>'
        in text
    )
    assert "<h2>Trust built at meeting last fall</h2>" in text
    assert "<h2>Schisms in the U.S. administration</h2>" in text
    toolbar = re.search(r'<div class="toolbar".*?</div>', text, re.S)
    assert toolbar is not None
    assert "print PRINT" in toolbar.group(0)
    tags = re.search(r'<ul class="tags">(.*?)</ul>', text, re.S)
    assert tags is not None
    assert re.findall(r">([^<>]+)</a></li>", tags.group(1)) == ["Ambassador", "Ukraine", "COVID-19"]
    assert "<h3>Trending Japan</h3>" in text
    assert f'<link rel="canonical" href="{base_url}{REFERENCE_PATH}">' in text
    assert '<meta property="og:type" content="article">' in text
    assert '<time datetime="2017-10-30T17:20:00+09:00">October 30, 2017 at 17:20 JST</time>' in text
    for paragraph in seed.paragraphs:
        assert f"<p>{paragraph.replace('&', '&amp;')}</p>" in text
    assert "“Now is not the time for dialogue." in text
    assert "$" not in text
