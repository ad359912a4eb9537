"""robots.txt politeness through the Fetcher: disallowed paths get no request, Crawl-delay
spaces requests, a failing robots.txt pauses the host, per-host concurrency holds."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from newsdesk.errors import BlockedURL
from newsdesk.fetch import Fetcher
from newsdesk.robots import RobotsPolicy, parse_robots
from newsdesk.settings import Settings
from tests.servers import Handler, Route, TestServer, redirect, respond, sequence


def _fetcher(policy: RobotsPolicy | None = None, *allow: str) -> Fetcher:
    settings = Settings(
        request_deadline=2.0, connect_timeout=1.0, allow_hosts=list(allow) or ["127.0.0.1"]
    )
    return Fetcher(settings, robots=policy or RobotsPolicy())


def _robots(text: str) -> Route:
    return respond(200, text.encode(), content_type="text/plain")


PAGE = respond(200, b"<html>page</html>")


def test_disallowed_path_gets_no_request() -> None:
    with TestServer() as srv, _fetcher() as fetcher:
        srv.route("/robots.txt", _robots("User-agent: *\nDisallow: /private\n"))
        srv.route("/public", PAGE)
        srv.route("/private/a", PAGE)
        assert fetcher.get(srv.url("/public")).status == 200
        with pytest.raises(BlockedURL, match=r"robots\.txt"):
            fetcher.get(srv.url("/private/a"))
        fetcher.get(srv.url("/public"))
    assert srv.paths() == ["/robots.txt", "/public", "/public"]
    assert "newsdesk" in srv.requests[0].headers["user-agent"]


def test_redirect_into_a_disallowed_path_is_stopped() -> None:
    with (
        TestServer("127.0.0.2") as other,
        TestServer() as srv,
        _fetcher(None, "127.0.0.1", "127.0.0.2") as fetcher,
    ):
        other.route("/robots.txt", _robots("User-agent: newsdesk\nDisallow: /\n"))
        other.route("/story", PAGE)
        srv.route("/go", redirect(other.url("/story")))
        with pytest.raises(BlockedURL, match=r"robots\.txt"):
            fetcher.get(srv.url("/go"))
    assert other.paths() == ["/robots.txt"]


def test_crawl_delay_spaces_requests_to_a_host() -> None:
    with TestServer() as srv, _fetcher() as fetcher:
        srv.route("/robots.txt", _robots("User-agent: *\nCrawl-delay: 2\n"))
        srv.route("/a", PAGE)
        srv.route("/b", PAGE)
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(fetcher.get, [srv.url("/a"), srv.url("/b")]))
    pages = [r for r in srv.requests if r.path != "/robots.txt"]
    assert len(pages) == 2
    assert pages[1].at - pages[0].at >= 2.0 - 0.01


def test_crawl_delay_is_capped() -> None:
    policy = RobotsPolicy(crawl_delay_cap=0.3)
    with TestServer() as srv, _fetcher(policy) as fetcher:
        srv.route("/robots.txt", _robots("User-agent: *\nCrawl-delay: 3600\n"))
        srv.route("/a", PAGE)
        start = time.monotonic()
        for _ in range(3):
            fetcher.get(srv.url("/a"))
        took = time.monotonic() - start
    assert 0.6 - 0.01 <= took < 2.0


def test_server_error_on_robots_pauses_the_host() -> None:
    policy = RobotsPolicy(error_pause=0.5)
    with TestServer() as srv, _fetcher(policy) as fetcher:
        srv.route(
            "/robots.txt",
            sequence(respond(503, b"down"), _robots("User-agent: *\nAllow: /\n")),
        )
        srv.route("/a", PAGE)
        with pytest.raises(BlockedURL, match="paused"):
            fetcher.get(srv.url("/a"))
        with pytest.raises(BlockedURL, match="paused"):
            fetcher.get(srv.url("/a"))
        time.sleep(0.6)
        assert fetcher.get(srv.url("/a")).status == 200
    assert srv.paths() == ["/robots.txt", "/robots.txt", "/a"]


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_client_error_on_robots_allows_everything(status: int) -> None:
    with TestServer() as srv, _fetcher() as fetcher:
        srv.route("/robots.txt", respond(status, b"nope"))
        srv.route("/a", PAGE)
        assert fetcher.get(srv.url("/a")).status == 200


def test_robots_is_cached_per_host_until_ttl() -> None:
    now = [1000.0]
    policy = RobotsPolicy(ttl=60, clock=lambda: now[0])
    with TestServer() as srv, _fetcher(policy) as fetcher:
        srv.route("/robots.txt", _robots("User-agent: *\nDisallow: /x\n"))
        srv.route("/a", PAGE)
        for _ in range(3):
            fetcher.get(srv.url("/a"))
        now[0] += 61
        fetcher.get(srv.url("/a"))
    assert srv.paths().count("/robots.txt") == 2


def test_per_host_concurrency_is_limited() -> None:
    active = 0
    peak = 0
    lock = threading.Lock()

    def slow(h: Handler) -> None:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.2)
        with lock:
            active -= 1
        PAGE(h)

    policy = RobotsPolicy(per_host_concurrency=1)
    with TestServer() as srv, _fetcher(policy) as fetcher:
        srv.route("/robots.txt", respond(404))
        srv.route("/slow", slow)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(fetcher.get, [srv.url("/slow")] * 4))
    assert peak == 1


def test_own_group_wins_over_star() -> None:
    rules = parse_robots(
        "User-agent: *\nDisallow: /\n\nUser-agent: Newsdesk/1.0\nUser-agent: other\n"
        "Disallow: /drafts\nCrawl-delay: 4\n"
    )
    assert rules.allows("https://x.test/news/1")
    assert not rules.allows("https://x.test/drafts/1")
    assert rules.crawl_delay == 4


@pytest.mark.parametrize(
    ("robots", "path", "allowed"),
    [
        ("Disallow: /private", "/private", False),
        ("Disallow: /private", "/private-eye", False),
        ("Disallow: /private", "/public", True),
        ("Disallow:", "/anything", True),
        ("Disallow: /\nAllow: /news/", "/news/1", True),
        ("Disallow: /\nAllow: /news/", "/sport", False),
        ("Allow: /page\nDisallow: /page", "/page", True),
        ("Disallow: /*.pdf$", "/files/a.pdf", False),
        ("Disallow: /*.pdf$", "/files/a.pdf?x=1", True),
        ("Disallow: /*?", "/a?b=1", False),
        ("Disallow: /*?", "/a", True),
        ("Disallow: /a*b*c", "/a-x-b-y-c-z", False),
        ("Disallow: /", "/robots.txt", True),
        ("Disallow: private", "/private", False),
        ("  disallow :  /x   # comment", "/x/1", False),
    ],
)
def test_rule_matching(robots: str, path: str, allowed: bool) -> None:
    rules = parse_robots("\ufeffUser-agent: *\n" + robots + "\n")
    assert rules.allows("https://x.test" + path) is allowed


def test_rules_before_any_user_agent_are_ignored() -> None:
    assert parse_robots("Disallow: /\n").allows("https://x.test/a")
