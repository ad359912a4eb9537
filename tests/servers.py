"""Real HTTP servers on loopback for network tests: well-behaved, slow, lying and hostile.

`TestServer` is a threaded HTTP/1.1 server on 127.0.0.x with a route table; each route is a
function that writes the whole response through the handler, so a route can stall, drip,
lie about its length or stream a gzip bomb. Every accepted connection and every request is
recorded, so a server doubles as an SSRF canary (`connections == 0`).

    with TestServer() as srv:
        srv.route("/feed", respond(200, b"<rss/>", content_type="application/rss+xml"))
        fetcher.get(srv.url("/feed"))
"""

from __future__ import annotations

import functools
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Route = Callable[["Handler"], None]


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        srv = self.server.owner
        with srv.lock:
            srv.requests.append(
                RecordedRequest(self.path, {k.lower(): v for k, v in self.headers.items()})
            )
        route = srv.routes.get(self.path) or srv.routes.get(self.path.split("?", 1)[0])
        try:
            if route is None:
                respond(404, b"not found")(self)
            else:
                route(self)
        except OSError:
            self.close_connection = True

    def send_head(
        self, status: int, headers: dict[str, str] | None = None, *, close: bool = False
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()

    @property
    def stopping(self) -> threading.Event:
        return self.server.owner.stopping

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: TestServer

    def get_request(self) -> Any:
        conn = super().get_request()
        with self.owner.lock:
            self.owner.connections += 1
        return conn

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class _Server6(_Server):
    address_family = socket.AF_INET6


class TestServer:
    """A loopback HTTP server with routes; use as a context manager."""

    __test__ = False

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.routes: dict[str, Route] = {}
        self.requests: list[RecordedRequest] = []
        self.connections = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        server_class = _Server6 if ":" in host else _Server
        self._httpd = server_class((host, 0), Handler)
        self._httpd.owner = self
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str = "/", host: str | None = None) -> str:
        name = host or self.host
        if ":" in name and not name.startswith("["):
            name = f"[{name}]"
        return f"http://{name}:{self.port}{path}"

    def route(self, path: str, handler: Route) -> TestServer:
        self.routes[path] = handler
        return self

    def paths(self) -> list[str]:
        with self.lock:
            return [r.path for r in self.requests]

    def __enter__(self) -> TestServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def respond(
    status: int = 200,
    body: bytes = b"",
    *,
    content_type: str | None = "text/html; charset=utf-8",
    headers: dict[str, str] | None = None,
) -> Route:
    """A plain response with a correct Content-Length."""

    def route(h: Handler) -> None:
        all_headers = {"Content-Length": str(len(body))}
        if content_type:
            all_headers["Content-Type"] = content_type
        all_headers.update(headers or {})
        h.send_head(status, all_headers)
        h.wfile.write(body)

    return route


def sequence(*routes: Route) -> Route:
    """Each request gets the next route; the last one repeats."""
    remaining = list(routes)
    lock = threading.Lock()

    def route(h: Handler) -> None:
        with lock:
            current = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        current(h)

    return route


def redirect(location: str | Callable[[Handler], str], status: int = 302) -> Route:
    def route(h: Handler) -> None:
        target = location(h) if callable(location) else location
        h.send_head(status, {"Location": target, "Content-Length": "0"})

    return route


def conditional(etag: str, body: bytes, last_modified: str = "") -> Route:
    """200 with an ETag, or 304 when the client sends it back."""

    def route(h: Handler) -> None:
        if h.headers.get("If-None-Match") == etag or (
            last_modified and h.headers.get("If-Modified-Since") == last_modified
        ):
            h.send_head(304, {"ETag": etag, "Content-Length": "0"})
            return
        headers = {"ETag": etag, "Content-Length": str(len(body))}
        if last_modified:
            headers["Last-Modified"] = last_modified
        h.send_head(200, headers)
        h.wfile.write(body)

    return route


def stall(seconds: float = 30.0) -> Route:
    """Read the request, then never answer (until the server stops)."""

    def route(h: Handler) -> None:
        h.stopping.wait(seconds)
        h.close_connection = True

    return route


def drip(interval: float = 1.0, *, total: int = 10_000) -> Route:
    """Headers at once, then one body byte per `interval`: each read succeeds, slowly."""

    def route(h: Handler) -> None:
        h.send_head(200, {"Content-Type": "text/html", "Content-Length": str(total)})
        h.wfile.flush()
        for _ in range(total):
            if h.stopping.wait(interval):
                break
            h.wfile.write(b"x")
            h.wfile.flush()
        h.close_connection = True

    return route


def stream(chunks: Iterator[bytes], headers: dict[str, str]) -> Route:
    """Write headers, then chunks until they run out or the client goes away."""

    def route(h: Handler) -> None:
        h.send_head(200, headers, close=True)
        for chunk in chunks:
            if h.stopping.is_set():
                break
            h.wfile.write(chunk)

    return route


def endless(content_type: str = "text/html") -> Route:
    """A body without end and without Content-Length (delimited by close)."""

    def route(h: Handler) -> None:
        block = b"<p>" + b"a" * 65_530 + b"</p>"
        stream(iter(lambda: block, None), {"Content-Type": content_type})(h)

    return route


def lying_length(declared: int, actual: int) -> Route:
    """Claims `declared` bytes of body but sends `actual` (in 64 KB blocks)."""

    def chunks() -> Iterator[bytes]:
        sent = 0
        while sent < actual:
            size = min(65_536, actual - sent)
            sent += size
            yield b"b" * size

    def route(h: Handler) -> None:
        stream(chunks(), {"Content-Type": "text/html", "Content-Length": str(declared)})(h)

    return route


@functools.cache
def gzip_bomb_bytes(mebibytes: int = 1024) -> bytes:
    """A valid gzip member of `mebibytes` MiB of zeros in about 1 KB per MiB.

    After a full flush deflate restarts from scratch, so every further MiB of zeros compresses
    to the same bytes: the bomb is built by repetition in well under a second instead of
    compressing 1 GiB, and it is made before any memory measurement starts.
    """
    zeros = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    repeat = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    end = deflate.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, (mebibytes << 20) & 0xFFFFFFFF)
    return header + first + repeat * (mebibytes - 1) + end + trailer


def _slices(data: bytes, size: int = 65_536) -> Iterator[memoryview]:
    view = memoryview(data)
    for start in range(0, len(view), size):
        yield view[start : start + size]


def gzip_bomb(mebibytes: int = 1024) -> Route:
    """Content-Encoding: gzip, ~1 MB on the wire inflating to `mebibytes` MiB."""
    data = gzip_bomb_bytes(mebibytes)

    def route(h: Handler) -> None:
        headers = {"Content-Type": "text/html", "Content-Encoding": "gzip"}
        stream(_slices(data), headers)(h)  # type: ignore[arg-type]

    return route


def statuses(*codes: int, headers: dict[str, str] | None = None) -> Route:
    """Answer with each status in turn (body "ok" on 2xx); the last repeats."""
    return sequence(*(respond(code, b"ok", headers=headers) for code in codes))
