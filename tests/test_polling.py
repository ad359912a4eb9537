"""Incremental polling against real loopback servers: conditional GET, body hash, sitemap
children, failures; plus the adaptive interval and `due_sources` as plain functions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from newsdesk.archive import WarcArchive, payload_digest, read_record
from newsdesk.fetch import Fetcher
from newsdesk.polling import PollResult, PollSettings, apply_poll, due_sources, next_interval, poll
from newsdesk.settings import Settings
from newsdesk.source_state import SourceState
from newsdesk.sources import SourceConfig
from tests.newswire import RSS_TYPE, feed_route, rss
from tests.servers import TestServer, respond, statuses

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[TestServer]:
    with TestServer() as srv:
        yield srv


@pytest.fixture
def fetcher(tmp_path: Path) -> Iterator[Fetcher]:
    settings = Settings(allow_hosts=["127.0.0.1"], request_deadline=5.0, data_dir=tmp_path)
    with Fetcher(settings) as f:
        yield f


def source(url: str, **extra: object) -> SourceConfig:
    return SourceConfig.model_validate({"name": "s", "url": url, **extra})


def items(n: int, base: str = "http://127.0.0.1:9/news") -> list[tuple[str, str]]:
    return [(f"Story {i}", f"{base}/{i}.html") for i in range(n)]


def feed_requests(server: TestServer, path: str) -> list[dict[str, str]]:
    return [r.headers for r in server.requests if r.path == path]


def repoll(fetcher: Fetcher, src: SourceConfig, first: PollResult) -> PollResult:
    state = apply_poll(src, None, first, len(first.entries))
    return poll(fetcher, src, state)


def test_an_unchanged_feed_answers_304_to_the_stored_validators(
    server: TestServer, fetcher: Fetcher
) -> None:
    server.route("/feed.xml", feed_route(rss(items(3))))
    src = source(server.url("/feed.xml"))
    first = poll(fetcher, src)
    assert first.status == "ok"
    assert len(first.entries) == 3
    assert first.etag
    assert first.last_modified
    assert not first.conditional

    second = repoll(fetcher, src, first)
    assert second.status == "not_modified"
    assert second.entries == []
    assert second.conditional
    sent = feed_requests(server, "/feed.xml")[-1]
    assert sent["if-none-match"] == first.etag
    assert sent["if-modified-since"] == first.last_modified
    # a 304 keeps the validators (and the body hash) it was asked with
    assert (second.etag, second.body_hash) == (first.etag, first.body_hash)


def test_a_lying_etag_costs_no_parse(server: TestServer, fetcher: Fetcher) -> None:
    """A new ETag on every response for the same bytes: the body hash says 'unchanged'."""
    server.route("/feed.xml", feed_route(rss(items(3)), etag="lying"))
    src = source(server.url("/feed.xml"))
    first = poll(fetcher, src)
    second = repoll(fetcher, src, first)
    assert second.status == "unchanged"
    assert second.entries == []
    assert second.etag != first.etag
    assert second.body_hash == first.body_hash


def test_a_changed_feed_is_parsed_again(server: TestServer, fetcher: Fetcher) -> None:
    bodies = [rss(items(2)), rss(items(3))]
    server.route("/feed.xml", feed_route(lambda: bodies[0]))
    src = source(server.url("/feed.xml"))
    first = poll(fetcher, src)
    bodies.pop(0)
    second = repoll(fetcher, src, first)
    assert second.status == "ok"
    assert len(second.entries) == 3
    assert second.body_hash != first.body_hash


def test_conditional_get_can_be_turned_off(server: TestServer, fetcher: Fetcher) -> None:
    server.route("/feed.xml", feed_route(rss(items(1))))
    src = source(server.url("/feed.xml"))
    state = apply_poll(src, None, poll(fetcher, src), 1)
    again = poll(fetcher, src, state, policy=PollSettings(conditional_get=False))
    assert not again.conditional
    assert "if-none-match" not in feed_requests(server, "/feed.xml")[-1]
    assert again.status == "unchanged"  # the body hash still saves the parse


def test_last_modified_alone_is_used(server: TestServer, fetcher: Fetcher) -> None:
    server.route("/feed.xml", feed_route(rss(items(1)), etag=None))
    src = source(server.url("/feed.xml"))
    first = poll(fetcher, src)
    assert first.etag is None
    second = repoll(fetcher, src, first)
    assert second.status == "not_modified"
    assert "if-none-match" not in feed_requests(server, "/feed.xml")[-1]


def test_responses_are_archived_and_a_same_body_as_a_revisit(
    server: TestServer, tmp_path: Path, fetcher: Fetcher
) -> None:
    body = rss(items(2))
    server.route("/feed.xml", feed_route(body, etag="lying"))
    src = source(server.url("/feed.xml"))
    with WarcArchive(tmp_path / "archive") as archive:
        first = poll(fetcher, src, archive=archive)
        poll(fetcher, src, apply_poll(src, None, first, 2), archive=archive)
    files = list((tmp_path / "archive" / "warc").iterdir())
    assert len(files) == 1
    back = read_record(tmp_path / "archive", f"warc/{files[0].name}#0")
    assert back.content == body
    assert back.url == server.url("/feed.xml")
    with files[0].open("rb") as fh:
        records = [
            (r.rec_type, r.rec_headers, r.content_stream().read()) for r in ArchiveIterator(fh)
        ]
    assert [r[0] for r in records] == ["response", "revisit"]
    revisit = records[1][1]
    assert revisit.get_header("WARC-Payload-Digest") == payload_digest(body)
    # the digest warcio wrote on the full record: the revisit points at it
    assert records[0][1].get_header("WARC-Payload-Digest") == payload_digest(body)
    assert revisit.get_header("WARC-Refers-To-Target-URI") == server.url("/feed.xml")
    assert records[1][2] == b""


@pytest.mark.parametrize(
    ("route", "reason"),
    [
        (statuses(404), "404"),
        (respond(200, b"<html><body>not a feed</body></html>"), "HTML"),
        (respond(200, b"", content_type=RSS_TYPE), "empty"),
        (
            respond(
                200, b'<?xml version="1.0"?><rss><channel><item><title>cut', content_type=RSS_TYPE
            ),
            "",
        ),
        (respond(200, b"\x00\xff\xfe garbage \x89PNG", content_type=RSS_TYPE), ""),
    ],
)
def test_a_bad_feed_is_a_failed_result_never_an_exception(
    server: TestServer, fetcher: Fetcher, route: object, reason: str
) -> None:
    server.route("/feed.xml", route)  # type: ignore[arg-type]
    result = poll(fetcher, source(server.url("/feed.xml")))
    if result.status != "failed":  # a lenient parser may find no entries instead
        assert result.entries == []
        return
    assert result.failure is not None
    assert result.failure.stage == "poll"
    assert reason in (result.failure.reason or "")


def test_failures_back_off_and_keep_the_last_good_validators(
    server: TestServer, fetcher: Fetcher
) -> None:
    good = feed_route(rss(items(1)))
    answers = [good, statuses(500), statuses(500), good]
    server.route("/feed.xml", lambda h: answers[0](h))
    src = source(server.url("/feed.xml"), poll_interval_minutes=10, max_interval_minutes=100)
    state = apply_poll(src, None, poll(fetcher, src, now=NOW), 1)
    good_etag = state.etag
    failing_since = None
    for n in (1, 2):
        answers.pop(0)
        result = poll(fetcher, src, state, now=NOW + timedelta(minutes=n))
        assert result.status == "failed"
        assert "500" in (result.failure.reason if result.failure else "")
        state = apply_poll(src, state, result, 0)
        failing_since = failing_since or state.failing_since
        assert state.consecutive_failures == n
        assert state.failing_since == failing_since == NOW + timedelta(minutes=1)
        assert state.etag == good_etag
    assert state.interval_minutes == 40  # 10 → 20 → 40
    answers.pop(0)
    recovered = apply_poll(src, state, poll(fetcher, src, state), 0)
    assert recovered.consecutive_failures == 0
    assert recovered.failing_since is None
    assert recovered.last_status == "not_modified"


SITEMAP_INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>{base}/sitemap-news.xml</loc></sitemap>
<sitemap><loc>{base}/sitemap-old.xml</loc></sitemap></sitemapindex>"""


def sitemap(links: list[str]) -> bytes:
    urls = "".join(f"<url><loc>{link}</loc></url>" for link in links)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    ).encode()


def test_sitemap_index_children_are_polled_with_their_own_validators(
    server: TestServer, fetcher: Fetcher
) -> None:
    index = SITEMAP_INDEX.replace(b"{base}", server.url("").rstrip("/").encode())
    news = [["http://127.0.0.1:9/news/a.html"]]
    server.route("/sitemap.xml", feed_route(index))
    server.route("/sitemap-news.xml", feed_route(lambda: sitemap(news[0])))
    server.route("/sitemap-old.xml", feed_route(sitemap(["http://127.0.0.1:9/old/z.html"])))
    src = source(server.url("/sitemap.xml"))
    first = poll(fetcher, src)
    assert sorted(e.link for e in first.entries) == [
        "http://127.0.0.1:9/news/a.html",
        "http://127.0.0.1:9/old/z.html",
    ]
    assert [c.url for c in first.children] == [
        server.url("/sitemap-news.xml"),
        server.url("/sitemap-old.xml"),
    ]
    state = apply_poll(src, None, first, 2)

    # the index is unchanged (304) but one child gained a link
    news[0] = ["http://127.0.0.1:9/news/a.html", "http://127.0.0.1:9/news/b.html"]
    second = poll(fetcher, src, state)
    assert second.status == "not_modified"
    assert [e.link for e in second.entries] == [
        "http://127.0.0.1:9/news/a.html",
        "http://127.0.0.1:9/news/b.html",
    ]
    old_child = [r for r in server.requests if r.path == "/sitemap-old.xml"][-1]
    assert "if-none-match" in old_child.headers

    third = poll(fetcher, src, apply_poll(src, state, second, 1))
    assert third.entries == []


# --- the adaptive interval, as plain functions ------------------------------------------


def result(status: str = "ok", hint: float | None = None) -> PollResult:
    return PollResult.model_validate(
        {
            "source": "s",
            "url": "http://x/",
            "status": status,
            "polled_at": NOW,
            "hint_minutes": hint,
        }
    )


def polled(interval: float, **extra: object) -> SourceState:
    return SourceState.model_validate(
        {"name": "s", "polls": 3, "interval_minutes": interval, **extra}
    )


SRC = source(
    "http://x/", poll_interval_minutes=30, min_interval_minutes=5, max_interval_minutes=240
)


@pytest.mark.parametrize(
    ("state", "res", "new", "expected"),
    [
        (None, result(), 25, 30),  # first poll: everything is new, keep the configured interval
        (polled(30), result(), 4, 15),  # new entries: speed up
        (polled(30), result(), 0, 45),  # nothing new: slow down
        (polled(30), result("not_modified"), 0, 45),
        (polled(30), result("failed"), 0, 60),  # failure: back off harder
        (polled(6), result(), 9, 5),  # never below the configured minimum
        (polled(200), result("failed"), 0, 240),  # never above the configured maximum
        (polled(30), result(hint=120), 3, 120),  # the feed's ttl / sy:updatePeriod is a floor
        (polled(30), result(hint=1440), 3, 240),  # … within the configured maximum
        (polled(30, hint_minutes=60), result("not_modified"), 0, 60),  # remembered hint
    ],
)
def test_next_interval(
    state: SourceState | None, res: PollResult, new: int, expected: float
) -> None:
    assert next_interval(SRC, state, res, new) == pytest.approx(expected)


def test_apply_poll_sets_next_due_and_counts() -> None:
    after = apply_poll(SRC, polled(30, polls=7, new_entries=40), result(), 4)
    assert after.polls == 8
    assert after.new_entries == 44
    assert after.next_due_at == NOW + timedelta(minutes=15)
    assert after.last_success_at == NOW


def test_due_sources() -> None:
    a, b, c, d = (source(f"http://x/{n}", name=n) for n in "abcd")
    d = d.model_copy(update={"enabled": False})
    states = {
        "a": SourceState(name="a", next_due_at=NOW - timedelta(minutes=1)),
        "b": SourceState(name="b", next_due_at=NOW + timedelta(minutes=1)),
    }
    assert [s.name for s in due_sources([a, b, c, d], states, NOW)] == ["a", "c"]
    assert [s.name for s in due_sources([a, b, c, d], states, NOW + timedelta(minutes=2))] == [
        "a",
        "b",
        "c",
    ]
