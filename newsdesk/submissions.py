"""URLs submitted by people (`POST /ingest`, `newsdesk submit`): checked, then handed on.

Each URL is accepted or refused with a reason: not a usable http(s) URL, a blocked address
(the SSRF guard of `newsdesk.netguard`, including host names that resolve only to private
addresses), a repeat within the request, or already indexed. The check answers at once; the
fetch happens later in the ingestion pipeline, which applies the guard again on every hop.

Hand-off: until the orchestration work wires the ingestion event, accepted URLs are appended to
`<data_dir>/submitted.jsonl` (one JSON object per line: url, article_id, submitted_at), which
is the queue the pipeline is to read.
"""

from __future__ import annotations

import fcntl
import json
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpcore
from elasticsearch import Elasticsearch, NotFoundError
from pydantic import BaseModel

from newsdesk.errors import BlockedURL
from newsdesk.index import existing_ids
from newsdesk.netguard import HostAllowList, check_url, resolve_public
from newsdesk.settings import Settings
from newsdesk.urls import article_id, normalize_url

MAX_URL_LENGTH = 2048
RESOLVE_TIMEOUT = 2.0


class Accepted(BaseModel):
    url: str
    normalized_url: str
    article_id: str


class Refused(BaseModel):
    url: str
    reason: str


class SubmitResult(BaseModel):
    accepted: list[Accepted]
    refused: list[Refused]


def _shape_problem(url: str) -> str | None:
    """Why `url` is not a usable http(s) URL, or None."""
    if not url:
        return "invalid URL: empty"
    if len(url) > MAX_URL_LENGTH:
        return f"invalid URL: longer than {MAX_URL_LENGTH} characters"
    if any(c.isspace() or ord(c) < 32 for c in url):
        return "invalid URL: contains whitespace or control characters"
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        return f"invalid URL: {exc}"
    if parts.scheme.lower() not in ("http", "https"):
        return f"invalid URL: scheme {parts.scheme or '(none)'!r} is not http or https"
    if not parts.hostname:
        return "invalid URL: no host"
    return None


def _resolved_block(url: str, allow: HostAllowList) -> str | None:
    """'blocked address: …' when the host resolves only to non-public addresses."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        resolve_public(host, port, allow)
    except BlockedURL as exc:
        return f"blocked address: {exc.reason}"
    except httpcore.ConnectError:
        return None  # unresolvable now; the fetch decides (and records) later
    return None


def _indexed(client: Elasticsearch | None, settings: Settings, ids: list[str]) -> set[str]:
    if client is None or not ids:
        return set()
    try:
        return existing_ids(client, settings, ids)
    except NotFoundError:
        return set()  # no index yet: nothing is indexed


def check_urls(client: Elasticsearch | None, settings: Settings, urls: list[str]) -> SubmitResult:
    """Accept or refuse each URL, in input order, without fetching anything."""
    allow = HostAllowList(settings.allow_hosts)
    refused: dict[int, str] = {}
    seen: dict[str, int] = {}
    for i, raw in enumerate(urls):
        url = raw.strip()
        problem = _shape_problem(url)
        if problem is None:
            try:
                check_url(url, allow)
            except BlockedURL as exc:
                problem = f"blocked address: {exc.reason}"
        if problem is None:
            key = normalize_url(url)
            if key in seen:
                problem = f"repeats URL number {seen[key] + 1} of this request"
            else:
                seen[key] = i
        if problem:
            refused[i] = problem
    pending = [i for i in range(len(urls)) if i not in refused]
    pool = ThreadPoolExecutor(max_workers=8)
    try:
        futures = {i: pool.submit(_resolved_block, urls[i].strip(), allow) for i in pending}
        wait(futures.values(), timeout=RESOLVE_TIMEOUT)
        for i, fut in futures.items():
            if fut.done() and (problem := fut.result()):
                refused[i] = problem
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    candidates = {i: article_id(urls[i].strip()) for i in range(len(urls)) if i not in refused}
    indexed = _indexed(client, settings, list(candidates.values()))
    accepted: list[Accepted] = []
    for i, doc_id in candidates.items():
        if doc_id in indexed:
            refused[i] = f"already indexed (article {doc_id})"
        else:
            url = urls[i].strip()
            accepted.append(Accepted(url=url, normalized_url=normalize_url(url), article_id=doc_id))
    return SubmitResult(
        accepted=accepted,
        refused=[Refused(url=urls[i], reason=refused[i]) for i in sorted(refused)],
    )


def queue_path(settings: Settings) -> Path:
    return settings.data_dir / "submitted.jsonl"


def record_accepted(settings: Settings, accepted: list[Accepted]) -> Path:
    """Append accepted URLs to the hand-off queue file (locked, one line each)."""
    path = queue_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).isoformat()
    lines = "".join(
        json.dumps({"url": a.url, "article_id": a.article_id, "submitted_at": now}) + "\n"
        for a in accepted
    )
    with open(path, "a", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            fh.write(lines)
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    return path
