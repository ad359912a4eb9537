"""Serve the demo site over real HTTP on a local port, for `newsdesk demo` and the tests.

Responses carry ETag and Last-Modified and honour conditional requests, so polling code can be
exercised against 304s as it would be against a real newspaper.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from time import time
from typing import Any
from urllib.parse import urlsplit

from newsdesk.demo_site import build_site, find_seed_article

_NOT_FOUND = (
    b'<!doctype html><html lang="en"><head><title>404 Not Found</title></head>'
    b"<body><h1>Not Found</h1></body></html>"
)


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(header: str, etag: str) -> bool:
    """If-None-Match uses weak comparison: `W/` prefixes are ignored, `*` matches anything."""
    tags = [t.strip() for t in header.split(",")]
    return any(t == "*" or t.removeprefix("W/") == etag for t in tags)


class _Handler(BaseHTTPRequestHandler):
    server: _SiteServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._respond(send_body=True)

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def _respond(self, *, send_body: bool) -> None:
        path = urlsplit(self.path).path or "/"
        page = self.server.pages.get(path)
        if page is None:
            self._send(HTTPStatus.NOT_FOUND, _NOT_FOUND, "text/html; charset=utf-8", {}, send_body)
            return
        body, content_type = page
        etag = _etag(body)
        headers = {"ETag": etag, "Last-Modified": self.server.last_modified_header}
        if self._not_modified(etag):
            self._send(HTTPStatus.NOT_MODIFIED, b"", None, headers, send_body=False)
            return
        self._send(HTTPStatus.OK, body, content_type, headers, send_body)

    def _not_modified(self, etag: str) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            return _matches(if_none_match, etag)
        since = self.headers.get("If-Modified-Since")
        if since:
            try:
                return parsedate_to_datetime(since).timestamp() >= int(self.server.last_modified)
            except (TypeError, ValueError):
                return False
        return False

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str | None,
        headers: dict[str, str],
        send_body: bool,
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        if status is not HTTPStatus.NOT_MODIFIED:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body and body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and the demo CLI own stderr."""


class _SiteServer(ThreadingHTTPServer):
    daemon_threads = True
    pages: dict[str, tuple[bytes, str]]
    last_modified: float
    last_modified_header: str


@contextmanager
def serve_site(
    pages: dict[str, tuple[bytes, str]] | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: Path | None = None,
) -> Iterator[str]:
    """Serve `pages` (default: the demo site) in a daemon thread; yield the base URL.

    Port 0 picks a free port. The server is shut down and its socket closed on exit.
    """
    server = _SiteServer((host, port), _Handler)
    try:
        bound_port = server.server_address[1]
        base_url = f"http://{host}:{bound_port}"
        if pages is None:
            pages = build_site(base_url, seed or find_seed_article())
        server.pages = dict(pages)
        server.last_modified = time()
        server.last_modified_header = formatdate(server.last_modified, usegmt=True)
        thread = threading.Thread(target=server.serve_forever, name="demo-site", daemon=True)
        thread.start()
        try:
            yield base_url
        finally:
            server.shutdown()
            thread.join(timeout=5)
    finally:
        server.server_close()
