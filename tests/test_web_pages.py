"""The server-rendered pages over real HTTP: hostile stored text renders as text everywhere,
strict Content-Security-Policy, and errors as pages that say what went wrong."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser

import httpx
import pytest

from newsdesk.api import create_app, serving
from newsdesk.api_common import ApiSettings
from tests.corpus import HOSTILE_AUTHOR, HOSTILE_TITLE, CorpusIndex, indexed_corpus

pytestmark = pytest.mark.es


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


def assert_inert(html: str) -> Tags:
    """Only our own script, no images, no event handlers, no javascript: links."""
    page = parse(html)
    scripts = [a for t, a in page.tags if t == "script"]
    assert scripts == [{"src": "/static/app.js", "defer": None}]
    assert not [t for t, _ in page.tags if t in ("img", "iframe", "object", "embed", "svg:script")]
    for tag, attrs in page.tags:
        assert not [k for k in attrs if k.startswith("on")], (tag, attrs)
        for key in ("href", "src", "action"):
            assert not (attrs.get(key) or "").strip().lower().startswith("javascript:"), attrs
    return page


@pytest.fixture(scope="module")
def site(es_url: str) -> Iterator[tuple[httpx.Client, CorpusIndex]]:
    with (
        indexed_corpus(es_url) as ci,
        serving(create_app(ci.settings, ApiSettings())) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        yield client, ci


def test_search_page_escapes_and_sends_a_strict_policy(
    site: tuple[httpx.Client, CorpusIndex],
) -> None:
    client, _ = site
    resp = client.get("/", params={"q": "onerror crane", "collapse": "false"})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    csp = resp.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "default-src 'none'" in csp
    assert resp.headers["x-content-type-options"] == "nosniff"
    page = assert_inert(resp.text)
    text = "".join(page.text)
    assert HOSTILE_TITLE in text
    assert HOSTILE_AUTHOR in text
    assert "&lt;script&gt;" in resp.text


def test_article_page_escapes_every_field(site: tuple[httpx.Client, CorpusIndex]) -> None:
    client, ci = site
    for hostile in [a for a in ci.articles if a.title == HOSTILE_TITLE][:2]:
        resp = client.get(f"/view/{hostile.id}")
        assert resp.status_code == 200
        page = assert_inert(resp.text)
        text = "".join(page.text)
        assert HOSTILE_TITLE in text
        assert hostile.quotes[0].text in text
        assert "<h1>injected</h1>" in text


def test_quote_page_escapes(site: tuple[httpx.Client, CorpusIndex]) -> None:
    client, _ = site
    resp = client.get("/quote-search", params={"speaker": "Ingrid Vos", "q": "harbour"})
    assert resp.status_code == 200
    page = assert_inert(resp.text)
    assert "<b onmouseover=alert(4)>" in "".join(page.text)


@pytest.mark.parametrize(
    ("path", "params", "status", "needle"),
    [
        ("/", {"since": "yesterday"}, 422, "since"),
        ("/", {"limit": "500"}, 400, "page size"),
        ("/", {"cursor": "junk"}, 400, "cursor"),
        ("/view/nope", {}, 404, "no article"),
        ("/quote-search", {"speaker": "x" * 300}, 422, "quote_speaker"),
    ],
)
def test_errors_are_pages(
    site: tuple[httpx.Client, CorpusIndex],
    path: str,
    params: dict[str, str],
    status: int,
    needle: str,
) -> None:
    client, _ = site
    resp = client.get(path, params=params)
    assert resp.status_code == status
    assert resp.headers["content-type"].startswith("text/html")
    assert needle in resp.text
    assert_inert(resp.text)


def test_static_assets(site: tuple[httpx.Client, CorpusIndex]) -> None:
    client, _ = site
    for path in ("/static/style.css", "/static/app.js", "/static/favicon.svg"):
        assert client.get(path).status_code == 200
