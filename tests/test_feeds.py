"""parse_feed_document against self-describing fixtures (tests/fixtures/feeds/README.md)."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from newsdesk.errors import FeedError
from newsdesk.feeds import ParsedFeed, parse_feed, parse_feed_document

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
SIDECAR = ".expected.json"
DEFAULT_FEED_URL = "https://feeds.example/feed.xml"
CASES = sorted(
    p for p in FIXTURES.iterdir() if not p.name.endswith(SIDECAR) and p.name != "README.md"
)


def _expected(path: Path) -> dict[str, Any]:
    sidecar = FIXTURES / (path.name.split(".")[0] + SIDECAR)
    return json.loads(sidecar.read_text("utf-8"))


def test_every_fixture_has_exactly_one_sidecar() -> None:
    stems = [p.name.split(".")[0] for p in CASES]
    sidecars = {p.name[: -len(SIDECAR)] for p in FIXTURES.glob(f"*{SIDECAR}")}
    assert len(stems) == len(set(stems))
    assert set(stems) == sidecars
    assert len(CASES) >= 40


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_fixture(path: Path) -> None:
    expected = _expected(path)
    assert expected["description"]
    feed_url = expected.get("feed_url", DEFAULT_FEED_URL)
    content = path.read_bytes()
    start = time.monotonic()
    if "error" in expected:
        with pytest.raises(FeedError, match=re.escape(expected["error"]) or None):
            parse_feed_document(content, feed_url=feed_url, source="fixture")
        with pytest.raises(FeedError):
            parse_feed(content, feed_url=feed_url, source="fixture")
        return
    doc = parse_feed_document(content, feed_url=feed_url, source="fixture")
    took = time.monotonic() - start
    assert took < expected.get("max_seconds", 5)
    _check(doc, expected)
    assert parse_feed(content, feed_url=feed_url, source="fixture") == doc.entries


def _check(doc: ParsedFeed, expected: dict[str, Any]) -> None:
    for key in ("kind", "skipped", "hub", "self_url", "ttl_minutes", "update_period_minutes"):
        if key in expected:
            assert getattr(doc, key) == expected[key], key
    if "child_feeds" in expected:
        assert doc.child_feeds == expected["child_feeds"]
    if "count" in expected:
        assert len(doc.entries) == expected["count"], [e.link for e in doc.entries]
    for got, want in zip(doc.entries, expected.get("entries", []), strict=False):
        for key, value in want.items():
            actual = getattr(got, key)
            if key == "published" and actual is not None:
                actual = actual.isoformat()
            assert actual == value, (got.link, key)
    assert len(doc.entries) >= len(expected.get("entries", []))
    for entry in doc.entries:
        assert entry.source == "fixture"
        assert entry.link.startswith(("http://", "https://"))
        assert entry.published is None or entry.published.tzinfo is UTC
    if "absent_text" in expected:
        texts = [doc.title or ""] + [f"{e.title} {e.summary} {e.link}" for e in doc.entries]
        assert not any(expected["absent_text"] in text for text in texts)
