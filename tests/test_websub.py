"""WebSub push ingestion against a hub of our own on 127.0.0.1.

The hub does what the WebSub spec asks of one: it accepts a subscription (202), verifies the
subscriber's intent with a GET carrying a challenge, and delivers content with an
`X-Hub-Signature` HMAC of the body. The subscriber side is the real thing: `newsdesk websub
subscribe`, `newsdesk websub serve` and `newsdesk serve` as processes, the session's Prefect
server and Elasticsearch.
"""

from __future__ import annotations

import http.server
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from flows.events import FEED_POLLED, INDEX_LABEL, recent_events
from newsdesk.es_client import connect
from newsdesk.prefect_server import free_port
from newsdesk.settings import Settings
from newsdesk.supervisor import kill_group, spawn
from newsdesk.urls import article_id
from newsdesk.websub import (
    Subscription,
    SubscriptionStore,
    accept_delivery,
    signature,
    signature_valid,
    verify_intent,
)

# --- signatures and verification, without a network ---------------------------------------


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
def test_a_correct_signature_is_accepted(algorithm: str) -> None:
    body = b"<feed>news</feed>"
    assert signature_valid("s3cret", body, signature("s3cret", body, algorithm))


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (None, "missing"),
        ("", "empty"),
        ("sha256", "no digest"),
        ("md5=" + "0" * 32, "unsupported algorithm"),
        (signature("other", b"<feed>news</feed>"), "wrong secret"),
        (signature("s3cret", b"<feed>tampered</feed>"), "body changed"),
    ],
)
def test_a_bad_signature_is_refused(header: str | None, why: str) -> None:
    assert not signature_valid("s3cret", b"<feed>news</feed>", header), why


def _store(tmp_path: Path, state: str = "pending") -> tuple[SubscriptionStore, Subscription]:
    store = SubscriptionStore(tmp_path / "subs.json")
    sub = Subscription(
        id="abc",
        source="wire",
        topic="https://example.test/feed.xml",
        hub="https://hub.example.test/",
        callback="https://me.example.test/websub/abc",
        secret="k",
        state=state,  # type: ignore[arg-type]
        requested_at=datetime.now(UTC),
    )
    store.put(sub)
    return store, sub


def test_verification_echoes_the_challenge_only_for_our_subscription(tmp_path: Path) -> None:
    store, sub = _store(tmp_path)
    ask = {
        "hub.mode": "subscribe",
        "hub.topic": sub.topic,
        "hub.challenge": "xyz",
        "hub.lease_seconds": "3600",
    }
    assert verify_intent(store, "nope", ask) is None
    assert verify_intent(store, sub.id, {**ask, "hub.topic": "https://evil.test/"}) is None
    assert verify_intent(store, sub.id, {**ask, "hub.mode": "unsubscribe"}) is None
    assert verify_intent(store, sub.id, ask) == "xyz"
    stored = store.get(sub.id)
    assert stored is not None
    assert stored.state == "verified"
    assert stored.expires_at is not None
    assert 3590 < (stored.expires_at - datetime.now(UTC)).total_seconds() <= 3600
    assert (tmp_path / "subs.json").stat().st_mode & 0o077 == 0, "secrets file is private"


def test_a_delivery_for_an_unknown_or_denied_subscription_is_refused(tmp_path: Path) -> None:
    store, sub = _store(tmp_path, state="denied")
    body = b"<rss/>"
    assert accept_delivery(store, "nope", body, signature("k", body)).status == 404
    assert accept_delivery(store, sub.id, body, signature("k", body)).status == 404


# --- a hub and a publisher on 127.0.0.1 ---------------------------------------------------


class Hub:
    """Subscriptions by callback; verification of intent; signed (or mis-signed) delivery."""

    def __init__(self) -> None:
        hub = self
        self.subs: dict[str, dict[str, str]] = {}
        self.verified: dict[str, bool] = {}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                if form.get("hub.mode") != "subscribe" or not form.get("hub.callback"):
                    self.send_response(400)
                    self.end_headers()
                    return
                hub.subs[form["hub.topic"]] = form
                self.send_response(202)
                self.end_headers()
                threading.Thread(target=hub.verify, args=(form,), daemon=True).start()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hub"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def verify(self, form: dict[str, str]) -> None:
        challenge = secrets.token_hex(8)
        params = {
            "hub.mode": "subscribe",
            "hub.topic": form["hub.topic"],
            "hub.challenge": challenge,
            "hub.lease_seconds": form.get("hub.lease_seconds", "3600"),
        }
        for _ in range(100):  # the callback app may still be starting
            try:
                resp = httpx.get(form["hub.callback"], params=params, timeout=5)
            except httpx.HTTPError:
                time.sleep(0.2)
                continue
            self.verified[form["hub.topic"]] = resp.status_code == 200 and resp.text == challenge
            return

    def publish(self, topic: str, body: bytes, *, secret: str | None = None) -> int:
        form = self.subs[topic]
        key = form["hub.secret"] if secret is None else secret
        resp = httpx.post(
            form["hub.callback"],
            content=body,
            headers={
                "Content-Type": "application/atom+xml",
                "X-Hub-Signature": signature(key, body, "sha256"),
            },
            timeout=30,
        )
        return resp.status_code

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def atom(feed_url: str, hub: str, links: list[str]) -> bytes:
    entries = "".join(
        f"<entry><title>Item {i}</title><id>{link}</id><link rel='alternate' href='{link}'/>"
        "<updated>2024-06-01T08:00:00Z</updated></entry>"
        for i, link in enumerate(links)
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
        f"<title>Wire</title><id>{feed_url}</id><updated>2024-06-01T08:00:00Z</updated>"
        f"<link rel='self' href='{feed_url}'/><link rel='hub' href='{hub}'/>{entries}</feed>"
    ).encode()


def article_page(title: str) -> bytes:
    paras = "".join(
        f"<p>The harbour council met on Tuesday to discuss paragraph {i} of the ferry plan, "
        "and residents asked about timetables, fares and the new pier near the market.</p>"
        for i in range(6)
    )
    return (
        f"<!doctype html><html lang='en'><head><title>{title}</title></head><body><article>"
        f"<h1>{title}</h1><p class='byline'>By Wire Desk</p>{paras}</article></body></html>"
    ).encode()


class Publisher:
    def __init__(self, hub: Hub) -> None:
        self.pages: dict[str, tuple[bytes, str]] = {}
        publisher = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body, ctype = publisher.pages.get(self.path, (b"", ""))
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", ctype or "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.feed_url = f"{self.base}/wire.xml"
        self.pages["/wire.xml"] = (atom(self.feed_url, hub.url, []), "application/atom+xml")
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add_article(self, title: str) -> str:
        path = f"/wire/{uuid.uuid4().hex[:10]}.html"
        self.pages[path] = (article_page(title), "text/html; charset=utf-8")
        return self.base + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="module")
def system(
    prefect_api_url: str, es_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("websub")
    hub = Hub()
    publisher = Publisher(hub)
    settings = Settings(
        es_url=es_url,
        index_alias=f"t-websub-{uuid.uuid4().hex[:8]}",
        data_dir=tmp / "data",
        allow_hosts=["127.0.0.1"],
    )
    feeds = tmp / "feeds.yaml"
    feeds.write_text(
        "allow_hosts: ['127.0.0.1']\n"
        "groups:\n  wire: {interval_minutes: 1440, paused: true}\n"
        f"sources:\n  - {{name: wire, url: '{publisher.feed_url}', group: wire, websub: true}}\n",
        "utf-8",
    )
    port = free_port()
    env = dict(os.environ)
    env.update(
        PREFECT_API_URL=prefect_api_url,
        NEWSDESK_ES_URL=es_url,
        NEWSDESK_INDEX_ALIAS=settings.index_alias,
        NEWSDESK_DATA_DIR=str(settings.data_dir),
        NEWSDESK_FEEDS_FILE=str(feeds),
        NEWSDESK_WEBSUB_CALLBACK_URL=f"http://127.0.0.1:{port}/",
        NEWSDESK_WEBSUB_PORT=str(port),
    )
    suffix = f"-{settings.index_alias}"
    serve = spawn(
        ["serve", "--suffix", suffix, "--no-automations"], env=env, log_path=tmp / "serve.log"
    )
    callback = spawn(["websub", "serve"], env=env, log_path=tmp / "websub.log")
    try:
        wait_until(
            lambda: (
                (
                    deployment_exists(f"ingest-entries/on-event{suffix}")
                    and deployment_exists(f"poll-sources/wire{suffix}")
                )
                or serve.poll() is not None
            ),
            240,
            "newsdesk serve",
        )
        assert serve.poll() is None, (tmp / "serve.log").read_text("utf-8", "replace")
        yield {
            "hub": hub,
            "publisher": publisher,
            "settings": settings,
            "env": env,
            "tmp": tmp,
            "callback": callback,
        }
    finally:
        for proc in (callback, serve):
            kill_group(proc.pid)
            proc.wait(timeout=30)
        hub.close()
        publisher.close()
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            for name in ("poll-sources/wire", "ingest-entries/on-event"):
                try:
                    client.delete_deployment(client.read_deployment_by_name(name + suffix).id)
                except Exception as exc:
                    print(f"cleanup: {name}: {exc}")
        client_es = connect(settings)
        client_es.indices.delete(index=settings.index_name, ignore_unavailable=True)
        client_es.options(ignore_status=404).indices.delete_index_template(
            name=f"{settings.index_alias}-template"
        )
        client_es.close()


def deployment_exists(name: str) -> bool:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_deployment_by_name(name)
        except ObjectNotFound:
            return False
    return True


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsdesk.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def searchable(settings: Settings, link: str) -> bool:
    client = connect(settings)
    try:
        resp = client.search(
            index=settings.index_alias, query={"ids": {"values": [article_id(link)]}}, size=0
        )
        return bool(resp["hits"]["total"]["value"])
    except Exception:
        return False
    finally:
        client.close()


@pytest.mark.es
def test_a_signed_delivery_is_searchable_and_a_forged_one_is_refused(
    system: dict[str, Any],
) -> None:
    hub: Hub = system["hub"]
    publisher: Publisher = system["publisher"]
    settings: Settings = system["settings"]
    env: dict[str, str] = system["env"]

    result = cli(env, "websub", "subscribe", "--json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["source"] == "wire"
    assert row["hub"] == hub.url
    assert row["topic"] == publisher.feed_url
    wait_until(lambda: hub.verified.get(publisher.feed_url), 60, "the hub's verification")
    listed = json.loads(cli(env, "websub", "list", "--json").stdout)
    assert [s["state"] for s in listed] == ["verified"]
    assert "secret" not in listed[0]

    pushed = publisher.add_article("Ferry fares fall for students")
    t0 = time.monotonic()
    status = hub.publish(publisher.feed_url, atom(publisher.feed_url, hub.url, [pushed]))
    assert status == 202
    wait_until(lambda: searchable(settings, pushed), 120, "the pushed article", every=0.2)
    print(f"WebSub delivery → searchable: {time.monotonic() - t0:.2f} s")

    forged = publisher.add_article("Forged story that must not be ingested")
    body = atom(publisher.feed_url, hub.url, [forged])
    assert hub.publish(publisher.feed_url, body, secret="not-the-secret") == 403
    unsigned = httpx.post(hub.subs[publisher.feed_url]["hub.callback"], content=body, timeout=10)
    assert unsigned.status_code == 403

    # Give a wrongly accepted delivery every chance to show up before asserting it did not.
    canary = publisher.add_article("Canary pushed after the forgery")
    assert hub.publish(publisher.feed_url, atom(publisher.feed_url, hub.url, [canary])) == 202
    wait_until(lambda: searchable(settings, canary), 120, "the canary", every=0.2)
    assert not searchable(settings, forged)
    polled = recent_events(
        FEED_POLLED,
        resource_id="newsdesk.source.wire",
        labels={INDEX_LABEL: settings.index_alias},
    )
    delivered = [e["link"] for ev in polled for e in ev.payload["new_entries"]]
    assert forged not in delivered
    assert {pushed, canary} <= set(delivered)
    assert all(ev.payload["via"] == "websub" for ev in polled)
    (sub,) = json.loads(cli(env, "websub", "list", "--json").stdout)
    assert sub["deliveries"] == 2
    assert sub["rejected"] == 2
