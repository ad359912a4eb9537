"""WebSub (PubSubHubbub) subscriber: push delivery of feed updates.

For a source with `websub: true` whose feed advertises a hub (`<link rel="hub">`), newsdesk
asks the hub to deliver updates to `<callback base>/<subscription id>` (the callback base is
`NEWSDESK_WEBSUB_CALLBACK_URL`, a public URL that reaches the callback app). Each subscription
has its own id and HMAC secret, kept in `<data_dir>/websub/subscriptions.json` (mode 600).

The callback app (`create_callback_app`, an ASGI app; run alone by `newsdesk websub serve`, or
mount it into another app at the callback path):

* GET — the hub's verification of intent: the challenge is echoed only for a subscription we
  requested, for its topic and mode; anything else is 404.
* POST — a delivery. The body must carry a valid `X-Hub-Signature` (`sha1=`, `sha256=`,
  `sha384=` or `sha512=` HMAC of the raw body with the subscription's secret), else it is
  answered 403 and ignored (the spec allows a 2xx here too; 403 makes a misconfigured hub
  visible). A signed body is parsed as a feed and its entries go to `on_entries`, which turns
  them into the same "feed updated" event a poll emits.

Nothing here talks to Elasticsearch or Prefect; the caller passes `on_entries`.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from newsdesk.errors import FeedError, NewsdeskError
from newsdesk.feeds import parse_feed_document
from newsdesk.fetch import guarded_transport
from newsdesk.models import FeedEntry
from newsdesk.settings import Settings

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature"
_ALGORITHMS = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}

State = Literal["pending", "verified", "denied", "failed", "unsubscribing", "unsubscribed"]


class WebSubError(NewsdeskError):
    pass


class WebSubSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSDESK_", extra="ignore")

    websub_callback_url: str | None = Field(
        default=None,
        description="Public base URL of the callback app, e.g. https://news.example.org/websub",
    )
    websub_lease_seconds: int = Field(default=10 * 24 * 3600, gt=0)
    websub_host: str = "127.0.0.1"
    websub_port: int = 8790
    websub_max_bytes: int = Field(default=5 * 1024 * 1024, gt=0)


class Subscription(BaseModel):
    id: str
    source: str
    topic: str
    hub: str
    callback: str
    secret: str = Field(repr=False)
    state: State = "pending"
    lease_seconds: int | None = None
    requested_at: datetime
    verified_at: datetime | None = None
    expires_at: datetime | None = None
    deliveries: int = 0
    rejected: int = 0
    last_delivery_at: datetime | None = None
    last_error: str | None = None


class SubscriptionStore:
    """Subscriptions in one JSON file, updated under an exclusive lock (several processes —
    the callback app and the CLI — share it)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def for_settings(cls, settings: Settings) -> SubscriptionStore:
        return cls(settings.data_dir / "websub" / "subscriptions.json")

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Subscription]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            subs = self._read()
            yield subs
            tmp = self.path.with_suffix(".tmp")
            data = {k: v.model_dump(mode="json") for k, v in subs.items()}
            tmp.write_text(json.dumps(data, indent=1), "utf-8")
            tmp.chmod(0o600)
            tmp.replace(self.path)
        finally:
            os.close(fd)

    def _read(self) -> dict[str, Subscription]:
        try:
            raw = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise WebSubError(f"{self.path}: unreadable subscription file ({exc})") from None
        return {k: Subscription.model_validate(v) for k, v in raw.items()}

    def all(self) -> list[Subscription]:
        return list(self._read().values())

    def get(self, sub_id: str) -> Subscription | None:
        return self._read().get(sub_id)

    def by_topic(self, topic: str) -> Subscription | None:
        return next((s for s in self._read().values() if s.topic == topic), None)

    def put(self, sub: Subscription) -> None:
        with self._locked() as subs:
            subs[sub.id] = sub

    def update(self, sub_id: str, **changes: Any) -> Subscription | None:
        with self._locked() as subs:
            sub = subs.get(sub_id)
            if sub is None:
                return None
            subs[sub_id] = sub = sub.model_copy(update=changes)
            return sub


def signature(secret: str, body: bytes, algorithm: str = "sha256") -> str:
    """The `X-Hub-Signature` value a hub sends for `body`."""
    digest = hmac.new(secret.encode(), body, _ALGORITHMS[algorithm]).hexdigest()
    return f"{algorithm}={digest}"


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time check of `X-Hub-Signature: <algorithm>=<hex>` against `body`."""
    if not header or "=" not in header:
        return False
    algorithm, _, given = header.strip().partition("=")
    digest = _ALGORITHMS.get(algorithm.lower())
    if digest is None:
        return False
    expected = hmac.new(secret.encode(), body, digest).hexdigest()
    return hmac.compare_digest(expected, given.strip().lower())


def discover(content: bytes, feed_url: str, source: str) -> tuple[str | None, str]:
    """The hub a feed document advertises (or None) and its topic (self URL, else feed URL)."""
    parsed = parse_feed_document(content, feed_url=feed_url, source=source)
    return parsed.hub, parsed.self_url or feed_url


def _hub_request(
    settings: Settings, hub: str, form: dict[str, str], *, timeout: float
) -> httpx.Response:
    with httpx.Client(
        transport=guarded_transport(list(settings.allow_hosts)),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": settings.user_agent},
    ) as client:
        try:
            return client.post(hub, data=form)
        except httpx.HTTPError as exc:
            raise WebSubError(f"hub {hub} unreachable: {exc}") from None


def subscribe(
    settings: Settings,
    store: SubscriptionStore,
    *,
    source: str,
    hub: str,
    topic: str,
    callback_base: str,
    lease_seconds: int,
    timeout: float = 10.0,
) -> Subscription:
    """Ask `hub` to deliver `topic` to us. The subscription stays `pending` until the hub
    verifies it through the callback app. Re-subscribing a topic renews it (same id and
    secret, so deliveries in flight stay valid)."""
    existing = store.by_topic(topic)
    sub_id = existing.id if existing else secrets.token_urlsafe(16)
    sub = Subscription(
        id=sub_id,
        source=source,
        topic=topic,
        hub=hub,
        callback=f"{callback_base.rstrip('/')}/{sub_id}",
        secret=existing.secret if existing else secrets.token_hex(32),
        state="verified" if existing and existing.state == "verified" else "pending",
        requested_at=datetime.now(UTC),
        verified_at=existing.verified_at if existing else None,
        expires_at=existing.expires_at if existing else None,
        deliveries=existing.deliveries if existing else 0,
        rejected=existing.rejected if existing else 0,
    )
    store.put(sub)
    form = {
        "hub.mode": "subscribe",
        "hub.topic": topic,
        "hub.callback": sub.callback,
        "hub.secret": sub.secret,
        "hub.lease_seconds": str(lease_seconds),
    }
    resp = _hub_request(settings, hub, form, timeout=timeout)
    if not resp.is_success:
        reason = f"hub answered HTTP {resp.status_code}: {resp.text[:200]}"
        store.update(sub.id, state="failed", last_error=reason)
        raise WebSubError(f"subscribing {topic} at {hub}: {reason}")
    return sub


def unsubscribe(
    settings: Settings, store: SubscriptionStore, sub: Subscription, *, timeout: float = 10.0
) -> None:
    store.update(sub.id, state="unsubscribing")
    form = {"hub.mode": "unsubscribe", "hub.topic": sub.topic, "hub.callback": sub.callback}
    resp = _hub_request(settings, sub.hub, form, timeout=timeout)
    if not resp.is_success:
        raise WebSubError(f"unsubscribing {sub.topic}: hub answered HTTP {resp.status_code}")


def verify_intent(store: SubscriptionStore, sub_id: str, params: dict[str, str]) -> str | None:
    """The challenge to echo for a hub's verification request, or None to refuse it (404)."""
    sub = store.get(sub_id)
    mode = params.get("hub.mode")
    if sub is None or params.get("hub.topic") != sub.topic:
        return None
    if mode == "denied":
        store.update(sub_id, state="denied", last_error=params.get("hub.reason") or "denied")
        return ""
    challenge = params.get("hub.challenge")
    if not challenge:
        return None
    if mode == "subscribe" and sub.state in ("pending", "verified"):
        lease = _int(params.get("hub.lease_seconds"))
        now = datetime.now(UTC)
        store.update(
            sub_id,
            state="verified",
            verified_at=now,
            lease_seconds=lease,
            expires_at=now + timedelta(seconds=lease) if lease else None,
            last_error=None,
        )
        return challenge
    if mode == "unsubscribe" and sub.state == "unsubscribing":
        store.update(sub_id, state="unsubscribed")
        return challenge
    return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


class Delivery(BaseModel):
    """What became of one POST to the callback."""

    status: int
    detail: str
    subscription: Subscription | None = None
    entries: list[FeedEntry] = Field(default_factory=list)


def accept_delivery(
    store: SubscriptionStore, sub_id: str, body: bytes, signature_header: str | None
) -> Delivery:
    """Check a delivery's signature and parse it; only a signed, parseable feed yields entries."""
    sub = store.get(sub_id)
    if sub is None or sub.state in ("unsubscribed", "denied", "failed"):
        return Delivery(status=404, detail="unknown subscription")
    if not signature_valid(sub.secret, body, signature_header):
        store.update(sub_id, rejected=sub.rejected + 1, last_error="bad or missing signature")
        log.warning("websub delivery for %s rejected: bad or missing signature", sub.topic)
        return Delivery(status=403, detail="bad or missing signature", subscription=sub)
    try:
        parsed = parse_feed_document(body, feed_url=sub.topic, source=sub.source)
    except FeedError as exc:
        store.update(sub_id, last_error=f"delivery not a feed: {exc.reason}")
        return Delivery(status=400, detail=f"not a feed: {exc.reason}", subscription=sub)
    sub = (
        store.update(sub_id, deliveries=sub.deliveries + 1, last_delivery_at=datetime.now(UTC))
        or sub
    )
    return Delivery(status=202, detail="accepted", subscription=sub, entries=parsed.entries)


OnEntries = Callable[[Subscription, list[FeedEntry]], None]


def create_callback_app(store: SubscriptionStore, on_entries: OnEntries, *, max_bytes: int) -> Any:
    """The callback endpoint as an ASGI app: `GET|POST /{subscription_id}`."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    async def verify(request: Request) -> Response:
        challenge = verify_intent(store, request.path_params["sub_id"], dict(request.query_params))
        if challenge is None:
            return PlainTextResponse("no such subscription", status_code=404)
        return PlainTextResponse(challenge)

    async def deliver(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            return PlainTextResponse("too large", status_code=413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_bytes:
                return PlainTextResponse("too large", status_code=413)
        delivery = await run_in_threadpool(
            accept_delivery,
            store,
            request.path_params["sub_id"],
            bytes(body),
            request.headers.get(SIGNATURE_HEADER),
        )
        if delivery.status == 202 and delivery.subscription and delivery.entries:
            await run_in_threadpool(on_entries, delivery.subscription, delivery.entries)
        return PlainTextResponse(delivery.detail, status_code=delivery.status)

    return Starlette(
        routes=[
            Route("/{sub_id}", verify, methods=["GET"]),
            Route("/{sub_id}", deliver, methods=["POST"]),
        ]
    )
