"""A small HTTP fault proxy on 127.0.0.1 in front of Elasticsearch, for fault-injection tests.

Every request is forwarded to the upstream node unless a fault is armed for it. Faults apply to
bulk requests (`/_bulk` in the path) for the first `n` of them, or to every request (`delay`):

* `item_429(n)` — answer each item of the bulk with a 429 `es_rejected_execution_exception`
  without forwarding (what a full write queue does), so only the client's retry writes it;
* `status_429(n)` — answer the whole bulk request with HTTP 429;
* `reset_after_forward(n)` — forward the bulk, let Elasticsearch apply it, then reset the
  client's connection instead of answering (the write landed, the client never heard);
* `slow_bulk(n, seconds)` — forward the bulk (it is applied) but answer only after `seconds`;
* `delay(seconds)` — hold every response back for `seconds` (a slow cluster).

`only_bodies_with`, when set, limits the bulk faults (and the `bulk` count) to requests whose
body contains it: the articles index's quoted name, say, to spare the dead-letter writes.
`before_bulk(body)`, when set, runs before each bulk request is handled (to kill the node at a
chosen moment), and `port` may be changed to follow a node restarted on another port.

The proxy counts the bulk requests it saw and what it did with them, so tests can assert that
the fault really happened.
"""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class FaultProxy:
    """State shared by the proxy's handler threads: the upstream and the armed faults."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 9200
        self.lock = threading.Lock()
        self.faults: dict[str, int] = {}
        self.delay_seconds = 0.0
        self.slow_seconds = 0.0
        self.seen: Counter[str] = Counter()
        self.before_bulk: Callable[[bytes], None] | None = None
        self.only_bodies_with: bytes | None = None
        self.url = ""

    def item_429(self, n: int) -> None:
        self._arm("item_429", n)

    def status_429(self, n: int) -> None:
        self._arm("status_429", n)

    def reset_after_forward(self, n: int) -> None:
        self._arm("reset", n)

    def slow_bulk(self, n: int, seconds: float) -> None:
        self.slow_seconds = seconds
        self._arm("slow", n)

    def delay(self, seconds: float) -> None:
        self.delay_seconds = seconds

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()
            self.delay_seconds = 0.0

    def _arm(self, kind: str, n: int) -> None:
        with self.lock:
            self.faults[kind] = n

    def take_fault(self, is_bulk: bool) -> str | None:
        """The fault for this request, consuming one of its `n`."""
        with self.lock:
            if is_bulk:
                self.seen["bulk"] += 1
            for kind, left in self.faults.items():
                if is_bulk and left > 0:
                    self.faults[kind] = left - 1
                    self.seen[kind] += 1
                    return kind
        return None


def _item_429_body(body: bytes) -> bytes:
    """A bulk response rejecting every action of `body` with 429."""
    lines = [json.loads(line) for line in body.splitlines() if line.strip()]
    items: list[dict[str, Any]] = []
    expect_source = False
    for line in lines:
        if expect_source:
            expect_source = False
            continue
        op, meta = next(iter(line.items()))
        expect_source = op != "delete"
        items.append(
            {
                op: {
                    "_index": meta.get("_index", ""),
                    "_id": meta.get("_id", ""),
                    "status": 429,
                    "error": {
                        "type": "es_rejected_execution_exception",
                        "reason": "rejected execution (fault proxy): write queue is full",
                    },
                }
            }
        )
    return json.dumps({"took": 1, "errors": True, "items": items}).encode()


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            is_bulk = self.path.split("?")[0].endswith("/_bulk")
            if is_bulk and proxy.before_bulk is not None:
                proxy.before_bulk(body)
            wanted = proxy.only_bodies_with
            fault = proxy.take_fault(is_bulk and (wanted is None or wanted in body))
            if fault == "item_429":
                self._answer(200, _item_429_body(body), "application/json")
                return
            if fault == "status_429":
                error = {"error": {"type": "es_rejected_execution_exception"}, "status": 429}
                self._answer(429, json.dumps(error).encode(), "application/json")
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
            upstream = http.client.HTTPConnection(proxy.host, proxy.port, timeout=120)
            try:
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                resp = upstream.getresponse()
                data = resp.read()
                status, resp_headers = resp.status, resp.getheaders()
            finally:
                upstream.close()
            if fault == "reset":
                self._reset()
                return
            if fault == "slow":
                time.sleep(proxy.slow_seconds)
            if proxy.delay_seconds:
                time.sleep(proxy.delay_seconds)
            self.send_response(status)
            for key, value in resp_headers:
                if key.lower() not in _HOP_HEADERS:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _answer(self, status: int, data: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _reset(self) -> None:
            """Close with RST (linger 0) so the client sees a reset, not a clean EOF."""
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

        def do_GET(self) -> None:
            self._relay()

        do_POST = do_PUT = do_DELETE = do_HEAD = do_GET

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    """Run a `FaultProxy` for `upstream` on a free 127.0.0.1 port; its `url` is set."""
    proxy = FaultProxy(upstream)
    server = _Server(("127.0.0.1", 0), _handler(proxy))
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="fault-proxy", daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
