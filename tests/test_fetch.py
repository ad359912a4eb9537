"""Fetcher against real loopback servers: headers, redirects, statuses, conditional GET, body
decoding and the HTML check."""

from __future__ import annotations

import gzip
import zlib

import pytest

from newsdesk.errors import (
    BlockedURL,
    NotHTML,
    PermanentHTTPStatus,
    TooManyRedirects,
    TransientHTTPStatus,
)
from newsdesk.fetch import Fetcher, parse_retry_after
from newsdesk.settings import Settings
from tests.servers import (
    TestServer,
    conditional,
    redirect,
    respond,
    sequence,
)


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "request_deadline": 2.0,
        "connect_timeout": 1.0,
        "max_bytes": 1 << 20,
        "max_redirects": 5,
        "allow_hosts": ["127.0.0.1"],
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def fetcher():
    with Fetcher(make_settings(), respect_robots=False) as f:
        yield f


def test_sends_project_user_agent_and_reports_page(fetcher: Fetcher) -> None:
    with TestServer() as srv:
        srv.route(
            "/a", respond(200, b"<html>hi</html>", content_type="text/html; charset=ISO-8859-1")
        )
        page = fetcher.get(srv.url("/a"))
    assert page.status == 200
    assert page.content == b"<html>hi</html>"
    assert page.content_type == "text/html"
    assert page.charset == "iso-8859-1"
    assert page.url == page.requested_url == srv.url("/a")
    assert page.headers["content-length"] == "15"
    assert page.fetched_at.tzinfo is not None
    assert page.elapsed >= 0
    sent = srv.requests[0].headers
    assert "newsdesk" in sent["user-agent"]
    assert sent["accept-encoding"] == "gzip, deflate"


def test_follows_redirects_and_reports_final_url(fetcher: Fetcher) -> None:
    with TestServer() as srv:
        srv.route("/old", redirect("/mid", 301))
        srv.route("/mid", redirect(srv.url("/new"), 308))
        srv.route("/new", respond(200, b"<html>new</html>"))
        page = fetcher.get(srv.url("/old"))
    assert page.url == srv.url("/new")
    assert page.requested_url == srv.url("/old")
    assert srv.paths() == ["/old", "/mid", "/new"]


@pytest.mark.parametrize("hops", [6, 30])
def test_redirect_chain_stops_at_limit(fetcher: Fetcher, hops: int) -> None:
    with TestServer() as srv:
        for i in range(hops):
            srv.route(f"/r{i}", redirect(f"/r{i + 1}"))
        srv.route(f"/r{hops}", respond(200, b"end"))
        with pytest.raises(TooManyRedirects):
            fetcher.get(srv.url("/r0"))
    assert len(srv.requests) == 6  # the first request plus max_redirects hops


def test_redirect_loop_stops_at_limit(fetcher: Fetcher) -> None:
    with TestServer() as srv:
        srv.route("/a", redirect("/b"))
        srv.route("/b", redirect("/a"))
        with pytest.raises(TooManyRedirects):
            fetcher.get(srv.url("/a"))
    assert len(srv.requests) == 6


@pytest.mark.parametrize(
    "target",
    [
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/_x",
        "ftp://example.com/x",
        "javascript:alert(1)",
    ],
)
def test_redirect_to_other_scheme_is_refused(fetcher: Fetcher, target: str) -> None:
    with TestServer() as srv:
        srv.route("/r", redirect(target))
        with pytest.raises(BlockedURL, match=r"scheme|malformed"):
            fetcher.get(srv.url("/r"))
    assert srv.paths() == ["/r"]


def test_redirect_without_location_is_permanent(fetcher: Fetcher) -> None:
    with TestServer() as srv:
        srv.route("/r", respond(302, b""))
        with pytest.raises(PermanentHTTPStatus) as info:
            fetcher.get(srv.url("/r"))
    assert info.value.status == 302


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
def test_transient_statuses(fetcher: Fetcher, status: int) -> None:
    with TestServer() as srv:
        srv.route("/x", respond(status, b"busy", headers={"Retry-After": "7"}))
        with pytest.raises(TransientHTTPStatus) as info:
            fetcher.get(srv.url("/x"))
    assert info.value.status == status
    assert info.value.retry_after == 7.0
    assert info.value.transient


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 451])
def test_permanent_statuses(fetcher: Fetcher, status: int) -> None:
    with TestServer() as srv:
        srv.route("/x", respond(status, b"no"))
        with pytest.raises(PermanentHTTPStatus) as info:
            fetcher.get(srv.url("/x"))
    assert info.value.status == status
    assert not info.value.transient


def test_retry_after_forms() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("nan") is None
    assert parse_retry_after(None) is None


def test_conditional_get_reports_not_modified(fetcher: Fetcher) -> None:
    lm = "Wed, 21 Oct 2015 07:28:00 GMT"
    with TestServer() as srv:
        srv.route("/feed", conditional('"v1"', b"<rss/>", last_modified=lm))
        first = fetcher.get(srv.url("/feed"))
        second = fetcher.get(srv.url("/feed"), etag=first.headers["etag"])
        third = fetcher.get(srv.url("/feed"), last_modified=first.headers["last-modified"])
    assert (first.status, first.not_modified) == (200, False)
    assert (second.status, second.not_modified, second.content) == (304, True, b"")
    assert third.not_modified
    assert srv.requests[1].headers["if-none-match"] == '"v1"'
    assert srv.requests[2].headers["if-modified-since"] == lm
    assert "if-none-match" not in srv.requests[0].headers


def test_conditional_headers_follow_a_moved_feed(fetcher: Fetcher) -> None:
    with TestServer() as srv:
        srv.route("/old", redirect("/new", 301))
        srv.route("/new", conditional('"v2"', b"<rss/>"))
        page = fetcher.get(srv.url("/old"), etag='"v2"')
    assert page.not_modified
    assert page.url == srv.url("/new")


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate", "gzip-gzip"])
def test_decodes_compressed_bodies(fetcher: Fetcher, encoding: str) -> None:
    body = b"<html>" + b"compressible " * 5000 + b"</html>"
    if encoding == "gzip":
        data, header = gzip.compress(body), "gzip"
    elif encoding == "deflate":
        data, header = zlib.compress(body), "deflate"
    elif encoding == "raw-deflate":
        raw = zlib.compressobj(6, zlib.DEFLATED, -15)
        data, header = raw.compress(body) + raw.flush(), "deflate"
    else:
        data, header = gzip.compress(gzip.compress(body)), "gzip, gzip"
    with TestServer() as srv:
        srv.route("/z", respond(200, data, headers={"Content-Encoding": header}))
        page = fetcher.get(srv.url("/z"))
    assert page.content == body


def test_unsupported_content_encoding_is_an_error(fetcher: Fetcher) -> None:
    with TestServer() as srv:
        srv.route("/z", respond(200, b"\x00\x01", headers={"Content-Encoding": "br"}))
        with pytest.raises(PermanentHTTPStatus, match="Content-Encoding"):
            fetcher.get(srv.url("/z"))


def test_no_cookies_are_kept(fetcher: Fetcher) -> None:
    with TestServer() as srv:
        srv.route(
            "/set",
            respond(302, b"", headers={"Set-Cookie": "session=abc; Path=/", "Location": "/next"}),
        )
        srv.route("/next", respond(200, b"<html></html>"))
        fetcher.get(srv.url("/set"))
        fetcher.get(srv.url("/next"))
    assert all("cookie" not in r.headers for r in srv.requests)


def test_credentials_are_not_forwarded_to_another_host() -> None:
    settings = make_settings(allow_hosts=["127.0.0.1", "127.0.0.2"])
    with (
        Fetcher(settings, respect_robots=False) as fetcher,
        TestServer("127.0.0.2") as other,
        TestServer() as srv,
    ):
        other.route("/landing", respond(200, b"<html></html>"))
        srv.route("/same", redirect("/elsewhere"))
        srv.route("/elsewhere", redirect(other.url("/landing")))
        url = srv.url("/same").replace("http://", "http://user:secret@")
        fetcher.get(url)
    assert "authorization" in srv.requests[0].headers
    assert "authorization" in srv.requests[1].headers
    assert "authorization" not in other.requests[0].headers


def test_get_page_accepts_html_and_sniffs_untyped(fetcher: Fetcher) -> None:
    with TestServer() as srv:
        srv.route("/html", respond(200, b"<html></html>", content_type="text/html"))
        srv.route("/xhtml", respond(200, b"<html/>", content_type="application/xhtml+xml"))
        srv.route("/untyped", respond(200, b"\n<!DOCTYPE html><html></html>", content_type=None))
        for path in ("/html", "/xhtml", "/untyped"):
            assert fetcher.get_page(srv.url(path)).status == 200


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"a": 1}', "application/json"),
        (b"%PDF-1.4", "application/pdf"),
        (b"<rss></rss>", "application/rss+xml"),
        (b"\x89PNG\r\n", None),
    ],
)
def test_get_page_refuses_non_html(fetcher: Fetcher, body: bytes, content_type: str | None) -> None:
    with TestServer() as srv:
        srv.route("/x", respond(200, body, content_type=content_type))
        with pytest.raises(NotHTML):
            fetcher.get_page(srv.url("/x"))


def test_custom_transport_is_used() -> None:
    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<html>m</html>", headers={"content-type": "text/html"})

    with Fetcher(
        make_settings(), transport=httpx.MockTransport(handler), respect_robots=False
    ) as f:
        assert f.get_page("https://news.example/a").content == b"<html>m</html>"


def test_sequence_helper_moves_on(fetcher: Fetcher) -> None:
    with TestServer() as srv:
        srv.route("/s", sequence(respond(200, b"one"), respond(200, b"two")))
        assert fetcher.get(srv.url("/s")).content == b"one"
        assert fetcher.get(srv.url("/s")).content == b"two"
        assert fetcher.get(srv.url("/s")).content == b"two"
