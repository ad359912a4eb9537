"""The overall deadline and the decoded-byte cap hold against servers that stall, drip, never
stop, lie about their length or send a gzip bomb."""

from __future__ import annotations

import threading
import time
import tracemalloc
from collections.abc import Iterator

import pytest

from newsdesk.errors import FetchTimeout, TooLarge
from newsdesk.fetch import Fetcher
from newsdesk.settings import Settings
from tests.servers import (
    TestServer,
    drip,
    endless,
    gzip_bomb,
    gzip_bomb_bytes,
    lying_length,
    redirect,
    respond,
    stall,
)

DEADLINE = 2.0
CAP = 1 << 20


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    settings = Settings(
        request_deadline=DEADLINE,
        connect_timeout=1.0,
        max_bytes=CAP,
        allow_hosts=["127.0.0.1"],
    )
    with Fetcher(settings, respect_robots=False) as f:
        yield f


def _timed_failure(fetcher: Fetcher, url: str) -> float:
    start = time.monotonic()
    with pytest.raises(FetchTimeout):
        fetcher.get(url)
    return time.monotonic() - start


def test_server_that_never_answers_fails_within_deadline(fetcher: Fetcher) -> None:
    with TestServer() as srv:
        srv.route("/stall", stall())
        took = _timed_failure(fetcher, srv.url("/stall"))
    assert DEADLINE - 0.1 <= took < DEADLINE + 0.5


def test_server_dripping_a_byte_a_second_fails_within_deadline(fetcher: Fetcher) -> None:
    with TestServer() as srv:
        srv.route("/drip", drip(interval=1.0))
        took = _timed_failure(fetcher, srv.url("/drip"))
    assert DEADLINE - 0.1 <= took < DEADLINE + 0.5


def test_deadline_covers_all_redirect_hops(fetcher: Fetcher) -> None:
    with TestServer() as srv:
        srv.route("/a", redirect("/drip"))
        srv.route("/drip", drip(interval=1.0))
        took = _timed_failure(fetcher, srv.url("/a"))
    assert took < DEADLINE + 0.5


def test_endless_body_stops_at_cap(fetcher: Fetcher) -> None:
    with TestServer() as srv:
        srv.route("/endless", endless())
        with pytest.raises(TooLarge):
            fetcher.get(srv.url("/endless"))


def test_declared_length_over_cap_is_refused_before_reading(fetcher: Fetcher) -> None:
    with TestServer() as srv:
        srv.route("/big", lying_length(declared=5 << 30, actual=64 << 10))
        with pytest.raises(TooLarge, match="Content-Length"):
            fetcher.get(srv.url("/big"))


def test_lying_short_content_length_is_framed_not_trusted(fetcher: Fetcher) -> None:
    with TestServer() as srv:
        srv.route("/liar", lying_length(declared=1000, actual=50 << 20))
        page = fetcher.get(srv.url("/liar"))
    assert len(page.content) == 1000


def test_gzip_bomb_stops_at_cap_with_bounded_memory(fetcher: Fetcher) -> None:
    assert len(gzip_bomb_bytes(1024)) < 1_100_000
    with TestServer() as srv:
        srv.route("/bomb", gzip_bomb(1024))
        tracemalloc.start()
        try:
            start = time.monotonic()
            with pytest.raises(TooLarge):
                fetcher.get(srv.url("/bomb"))
            took = time.monotonic() - start
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 2 * CAP, f"peak {peak} bytes"
    assert took < DEADLINE


def test_endless_body_memory_stays_below_twice_the_cap(fetcher: Fetcher) -> None:
    with TestServer() as srv:
        srv.route("/endless", endless())
        tracemalloc.start()
        try:
            with pytest.raises(TooLarge):
                fetcher.get(srv.url("/endless"))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 2 * CAP, f"peak {peak} bytes"


def test_body_just_under_cap_is_returned(fetcher: Fetcher) -> None:
    body = b"x" * CAP
    with TestServer() as srv:
        srv.route("/full", respond(200, body))
        assert fetcher.get(srv.url("/full")).content == body


def test_fetcher_is_usable_after_a_timeout(fetcher: Fetcher) -> None:
    with TestServer() as srv:
        srv.route("/stall", stall())
        srv.route("/ok", respond(200, b"<html>ok</html>"))
        _timed_failure(fetcher, srv.url("/stall"))
        assert fetcher.get(srv.url("/ok")).content == b"<html>ok</html>"


def test_hanging_name_resolution_fails_within_connect_timeout(
    fetcher: Fetcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The C resolver has no timeout of its own; a lookup that hangs must not hold the worker."""
    import socket

    release = threading.Event()

    def hanging(*args: object, **kwargs: object) -> list[object]:
        release.wait(10)
        raise OSError("resolver gave up")

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    try:
        took = _timed_failure(fetcher, "http://slow-dns.test/")
    finally:
        release.set()
    assert took < 1.0 + 0.5  # connect_timeout
