"""SSRF protection: URLs from feeds and users must not reach this machine or its private network.

Two checks, both needed. `check_url` refuses what the URL itself gives away (scheme, IP
literals in any notation) before anything is sent. `GuardedBackend` is the authoritative one:
it resolves the host itself, refuses non-public addresses and connects to the very address it
checked (TLS still verifies the original host name), so DNS rebinding and redirects to private
hosts fail at connect time on every hop. Hosts in `allow_hosts` skip the address check; tests
and demos list 127.0.0.1 that way.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any
from urllib.parse import urlsplit

import httpcore
from httpcore._backends.sync import SyncStream  # the stock socket stream, TLS included

from newsdesk.errors import BlockedURL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = frozenset({"http", "https"})

_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# Not globally reachable, spelled out because `is_global` differs between Python releases.
_NON_PUBLIC = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/96",
        "::ffff:0:0/96",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "3fff::/20",
        "5f00::/16",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, 6to4, Teredo, NAT64)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    packed = ip.packed
    if any(ip in net for net in _NAT64) or (packed[:12] == bytes(12) and packed[12:] != bytes(4)):
        return ipaddress.IPv4Address(packed[12:])
    return None


def is_public_address(ip: IPAddress) -> bool:
    """True only for globally routable unicast addresses (and IPv6 not hiding a private IPv4)."""
    if (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
        or any(ip.version == net.version and ip in net for net in _NON_PUBLIC)
    ):
        return False
    if isinstance(ip, ipaddress.IPv4Address):
        return True
    inner = _embedded_ipv4(ip)
    return inner is None or is_public_address(inner)


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a host string names literally, in any notation the C resolver accepts
    (`127.1`, `0x7f.1`, `2130706433`, `017700000001`, `[::ffff:127.0.0.1]`), else None."""
    bare = host.strip().strip("[]").rstrip(".")
    if not bare:
        return None
    try:
        return ipaddress.ip_address(bare.split("%", 1)[0])
    except ValueError:
        pass
    if all(c in "0123456789abcdefxABCDEFX." for c in bare) and bare[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    return None


def normalize_host(host: str) -> str:
    """Lower-case host without brackets or trailing dot, IP literals in canonical form."""
    bare = host.strip().strip("[]").rstrip(".").lower()
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        return bare


class HostAllowList:
    """Hosts exempt from the address check, matched by name (IP literals in canonical form)."""

    def __init__(self, hosts: Iterable[str] = ()) -> None:
        self._hosts = frozenset(normalize_host(h) for h in hosts if h.strip())

    def __contains__(self, host: object) -> bool:
        return isinstance(host, str) and normalize_host(host) in self._hosts

    def __bool__(self) -> bool:
        return bool(self._hosts)


def check_url(url: str, allow: HostAllowList) -> None:
    """Raise BlockedURL for a URL that must not be fetched whatever its host resolves to."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port
    except ValueError as exc:
        raise BlockedURL(f"malformed URL: {exc}", url=url) from None
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise BlockedURL(f"scheme {parts.scheme or '(none)'!r} is not http or https", url=url)
    if not host:
        raise BlockedURL("URL has no host", url=url)
    if host in allow:
        return
    literal = parse_ip_literal(host)
    if literal is not None and not is_public_address(literal):
        raise BlockedURL(f"address {literal} is not public", url=url)


_RESOLVER = ThreadPoolExecutor(max_workers=16, thread_name_prefix="newsdesk-dns")


def _getaddrinfo(host: str, port: int, timeout: float | None) -> list[tuple[Any, ...]]:
    """getaddrinfo under the caller's time limit: the C resolver has no timeout of its own
    short of its configured retries, so it runs in a helper thread that is waited on."""
    future = _RESOLVER.submit(
        socket.getaddrinfo, host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    try:
        return list(future.result(timeout))
    except FutureTimeout:
        raise httpcore.ConnectTimeout(f"resolving {host!r} took longer than {timeout:g}s") from None


def resolve_public(
    host: str, port: int, allow: HostAllowList, timeout: float | None = None
) -> list[tuple[Any, ...]]:
    """getaddrinfo results the guard lets a connection use, or BlockedURL when none."""
    try:
        infos = _getaddrinfo(host, port, timeout)
    except (OSError, UnicodeError) as exc:
        raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc}") from exc
    if host in allow:
        return list(infos)
    usable: list[tuple[Any, IPAddress]] = []
    refused: list[tuple[Any, IPAddress]] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        (usable if is_public_address(ip) else refused).append((info, ip))
    if not usable:
        shown = ", ".join(sorted({str(ip) for _, ip in refused})) or "nothing"
        raise BlockedURL(f"host {host!r} resolves to non-public address {shown}")
    return [info for info, _ in usable]


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore backend that connects only to addresses it has checked itself."""

    def __init__(self, allow: HostAllowList) -> None:
        self._allow = allow

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        started = time.monotonic()
        infos = resolve_public(host, port, self._allow, timeout)
        last: Exception | None = None
        for family, type_, proto, _, sockaddr in infos:
            left = None if timeout is None else timeout - (time.monotonic() - started)
            if left is not None and left <= 0:
                raise httpcore.ConnectTimeout(f"connecting to {host!r} timed out")
            sock = socket.socket(family, type_, proto)
            try:
                for option in socket_options or ():
                    sock.setsockopt(*option)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.settimeout(left)
                if local_address is not None:
                    sock.bind((local_address, 0))
                sock.connect(sockaddr)
            except TimeoutError as exc:
                sock.close()
                last = httpcore.ConnectTimeout(str(exc) or "connect timed out")
                continue
            except OSError as exc:
                sock.close()
                last = httpcore.ConnectError(str(exc))
                continue
            return SyncStream(sock)
        raise last or httpcore.ConnectError(f"no address for {host!r}")

    def sleep(self, seconds: float) -> None:
        httpcore.SyncBackend().sleep(seconds)
