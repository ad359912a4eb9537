"""SSRF guard: canary servers on loopback receive no connection, whatever the notation of the
address, whether the name only resolves to loopback, or a permitted page redirects there."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator

import pytest

from newsdesk import netguard
from newsdesk.errors import BlockedURL, FetchConnectError
from newsdesk.fetch import Fetcher
from newsdesk.settings import Settings
from tests.servers import TestServer, redirect, respond


def _fetcher(*allow: str) -> Fetcher:
    settings = Settings(request_deadline=2.0, connect_timeout=1.0, allow_hosts=list(allow))
    return Fetcher(settings, respect_robots=False)


@pytest.fixture
def canary() -> Iterator[TestServer]:
    with TestServer("127.0.0.1") as srv:
        srv.route("/", respond(200, b"<html>canary</html>"))
        yield srv
    assert srv.connections == 0, srv.paths()


NOTATIONS = [
    "127.0.0.1",
    "127.1",
    "127.0.1",
    "2130706433",
    "0x7f.1",
    "0x7f000001",
    "0x7F.0.0.1",
    "017700000001",
    "0177.0.0.1",
    "0177.0.0.01",
    "127.0.0.1.",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[0:0:0:0:0:ffff:127.0.0.1]",
    "[::127.0.0.1]",
    "[::1]",
    "0.0.0.0",
    "0",
    "localhost",
    "LOCALHOST",
    "user:pw@127.0.0.1",
    "example.com@127.0.0.1",
]


@pytest.mark.parametrize("host", NOTATIONS)
def test_canary_is_unreachable_in_any_notation(canary: TestServer, host: str) -> None:
    with _fetcher() as fetcher, pytest.raises(BlockedURL):
        fetcher.get(f"http://{host}:{canary.port}/")


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback on this machine")
@pytest.mark.parametrize(
    "host",
    ["[::1]", "[0:0:0:0:0:0:0:1]", "[0000::0001]", "[::1%25lo]", "localhost", "ip6-loopback"],
)
def test_ipv6_canary_is_unreachable(host: str) -> None:
    with TestServer("::1") as canary:
        canary.route("/", respond(200, b"<html>canary</html>"))
        with _fetcher() as fetcher, pytest.raises((BlockedURL, FetchConnectError)):
            fetcher.get(f"http://{host}:{canary.port}/")
    assert canary.connections == 0


def test_name_resolving_to_loopback_is_refused_at_connect_time(
    canary: TestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name that passes the URL check but resolves to loopback (DNS rebinding) is refused
    after the one resolution the connection itself uses."""
    real = socket.getaddrinfo
    calls: list[str] = []

    def resolver(host: str, *args: object, **kwargs: object) -> list:  # type: ignore[type-arg]
        calls.append(host)
        if host == "rebind.test":
            return real("127.0.0.1", *args, **kwargs)  # type: ignore[arg-type]
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    with _fetcher() as fetcher, pytest.raises(BlockedURL, match=r"non-public address 127\.0\.0\.1"):
        fetcher.get(f"http://rebind.test:{canary.port}/")
    assert calls == ["rebind.test"]


def test_allowed_page_cannot_redirect_to_a_forbidden_address() -> None:
    with (
        TestServer("127.0.0.2") as canary,
        TestServer("127.0.0.1") as allowed,
        _fetcher("127.0.0.1") as fetcher,
    ):
        canary.route("/", respond(200, b"<html>canary</html>"))
        allowed.route("/ok", respond(200, b"<html>fine</html>"))
        allowed.route("/to-canary", redirect(canary.url("/")))
        allowed.route("/to-canary-decimal", redirect(f"http://2130706434:{canary.port}/"))
        allowed.route("/to-localhost", redirect(f"http://localhost:{allowed.port}/ok"))
        allowed.route("/via-hop", redirect("/to-canary"))
        assert fetcher.get(allowed.url("/ok")).status == 200
        for path in ("/to-canary", "/to-canary-decimal", "/to-localhost", "/via-hop"):
            with pytest.raises(BlockedURL):
                fetcher.get(allowed.url(path))
    assert canary.connections == 0
    assert allowed.paths().count("/ok") == 1


def test_allow_hosts_match_by_name() -> None:
    with TestServer("127.0.0.1") as srv, _fetcher("localhost") as fetcher:
        srv.route("/", respond(200, b"<html>local</html>"))
        assert fetcher.get(srv.url("/", host="localhost")).status == 200
        with pytest.raises(BlockedURL):
            fetcher.get(srv.url("/", host="127.0.0.1"))
    assert srv.paths() == ["/"]


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "100.127.255.254",
        "169.254.169.254",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "0.0.0.0",
        "0.1.2.3",
        "192.0.0.8",
        "192.0.2.1",
        "198.18.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "ff0e::1",
        "2001:db8::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::10.0.0.1",
        "64:ff9b::a00:1",
        "64:ff9b::7f00:1",
        "2002:a00:1::1",
        "2002:7f00:1::1",
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",
    ],
)
def test_non_public_addresses(address: str) -> None:
    assert not netguard.is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2a00::1"])
def test_public_addresses(address: str) -> None:
    assert netguard.is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0xa.0.0.1", "10.0.0.1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("[fe80::1%eth0]", "fe80::1"),
        ("example.com", None),
        ("123.example", None),
        ("deadbeef", None),
        ("", None),
    ],
)
def test_parse_ip_literal(host: str, expected: str | None) -> None:
    parsed = netguard.parse_ip_literal(host)
    assert (str(parsed) if parsed else None) == expected


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://127.0.0.1/",
        "ftp://example.com/",
        "data:text/html,hi",
        "http:///path-only",
        "http://[::1/",
        "http://10.0.0.1/",
        "https://169.254.169.254/latest/meta-data/",
        "http://100.64.1.1/",
        "http://[fd00::1]:8080/",
    ],
)
def test_check_url_refuses(url: str) -> None:
    with pytest.raises(BlockedURL):
        netguard.check_url(url, netguard.HostAllowList())


def test_check_url_passes_names_and_allowed_hosts() -> None:
    netguard.check_url("https://news.example/a", netguard.HostAllowList())
    netguard.check_url("http://127.0.0.1:8000/", netguard.HostAllowList(["127.0.0.1"]))
    netguard.check_url("http://[::1]:8000/", netguard.HostAllowList(["::1"]))
    netguard.check_url("http://LocalHost./", netguard.HostAllowList(["localhost"]))
