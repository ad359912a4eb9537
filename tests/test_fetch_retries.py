"""fetch_with_retries retries transient failures only, backs off, and waits out Retry-After."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from newsdesk.errors import FetchConnectError, PermanentHTTPStatus, TransientHTTPStatus
from newsdesk.fetch import Fetcher, fetch_with_retries
from newsdesk.settings import Settings
from tests.servers import TestServer, respond, sequence, statuses


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    settings = Settings(request_deadline=2.0, connect_timeout=1.0, allow_hosts=["127.0.0.1"])
    with Fetcher(settings, respect_robots=False) as f:
        yield f


def test_503_503_200_succeeds_on_the_third_attempt(fetcher: Fetcher) -> None:
    with TestServer() as srv:
        srv.route("/flaky", statuses(503, 503, 200))
        page = fetch_with_retries(fetcher, srv.url("/flaky"), attempts=3, base_delay=0.05)
    assert page.status == 200
    assert len(srv.requests) == 3


def test_gives_up_after_the_last_attempt(fetcher: Fetcher) -> None:
    with TestServer() as srv:
        srv.route("/down", statuses(502))
        with pytest.raises(TransientHTTPStatus):
            fetch_with_retries(fetcher, srv.url("/down"), attempts=3, base_delay=0.01)
    assert len(srv.requests) == 3


def test_429_retry_after_is_waited_out(fetcher: Fetcher) -> None:
    with TestServer() as srv:
        srv.route(
            "/limited",
            sequence(respond(429, b"slow down", headers={"Retry-After": "3"}), respond(200, b"ok")),
        )
        start = time.monotonic()
        page = fetch_with_retries(fetcher, srv.url("/limited"), base_delay=0.01)
        took = time.monotonic() - start
    assert page.status == 200
    gap = srv.requests[1].at - srv.requests[0].at
    assert gap >= 3.0
    assert took < 5.0


def test_retry_after_beyond_the_cap_is_not_waited_for(fetcher: Fetcher) -> None:
    slept: list[float] = []
    with TestServer() as srv:
        srv.route("/later", respond(503, b"", headers={"Retry-After": "3600"}))
        with pytest.raises(TransientHTTPStatus) as info:
            fetch_with_retries(fetcher, srv.url("/later"), retry_after_cap=60, sleep=slept.append)
    assert info.value.retry_after == 3600
    assert slept == []
    assert len(srv.requests) == 1


@pytest.mark.parametrize("status", [404, 410])
def test_permanent_statuses_are_not_retried(fetcher: Fetcher, status: int) -> None:
    with TestServer() as srv:
        srv.route("/gone", statuses(status))
        with pytest.raises(PermanentHTTPStatus):
            fetch_with_retries(fetcher, srv.url("/gone"), attempts=5, base_delay=0.01)
    assert len(srv.requests) == 1


def test_backoff_grows_exponentially_with_jitter(fetcher: Fetcher) -> None:
    slept: list[float] = []
    with TestServer() as srv:
        srv.route("/down", statuses(500))
        with pytest.raises(TransientHTTPStatus):
            fetch_with_retries(
                fetcher, srv.url("/down"), attempts=4, base_delay=1.0, sleep=slept.append
            )
    assert len(slept) == 3
    for attempt, delay in enumerate(slept):
        assert 0 <= delay <= 2**attempt


def test_connection_refused_is_retried(fetcher: Fetcher) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    slept: list[float] = []
    with pytest.raises(FetchConnectError):
        fetch_with_retries(fetcher, f"http://127.0.0.1:{port}/", attempts=2, sleep=slept.append)
    assert len(slept) == 1
