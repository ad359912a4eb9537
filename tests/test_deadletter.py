"""The dead-letter ledger on the session's Elasticsearch: pending → retry → dead, backlog
claims, skipping dead links, and `newsdesk failures [retry]` against a loopback site."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import Elasticsearch
from typer.testing import CliRunner

from newsdesk import deadletter
from newsdesk.cli import app
from newsdesk.deadletter import RetrySettings, claim_backlog, get_letters, queue_pending
from newsdesk.index import ensure_index
from newsdesk.ingest import split_known
from newsdesk.models import Article, FeedEntry, Outcome, Status
from newsdesk.settings import Settings, get_settings
from newsdesk.urls import article_id
from tests.newswire import FERRY, LIBRARY, article_page, drop_ingest_indices, html_route
from tests.servers import TestServer, statuses

pytestmark = pytest.mark.es

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def client(es_client: Elasticsearch, es_settings: Settings) -> Iterator[Elasticsearch]:
    ensure_index(es_client, es_settings)
    yield es_client
    drop_ingest_indices(es_client, es_settings)


def entry(path: str, source: str = "s") -> FeedEntry:
    return FeedEntry(link=f"http://127.0.0.1:9{path}", source=source, title=path)


def failed(e: FeedEntry, *, transient: bool, stage: str = "fetch", reason: str = "x") -> Outcome:
    return Outcome.model_validate(
        {
            "url": e.link,
            "status": "failed",
            "stage": stage,
            "reason": reason,
            "source": e.source,
            "transient": transient,
        }
    )


def ok(e: FeedEntry) -> Outcome:
    return Outcome(url=e.link, status=Status.SKIPPED, stage="extract", reason="not an article")


def test_transient_failures_are_retried_then_dead_lettered(
    client: Elasticsearch, es_settings: Settings
) -> None:
    e = entry("/flaky.html")
    key = article_id(e.link)
    policy = RetrySettings(max_attempts=3)
    states = []
    for n in range(3):
        states.append(
            deadletter.record_outcomes(
                client,
                es_settings,
                [e],
                [failed(e, transient=True, reason=f"HTTP 503 #{n}")],
                policy=policy,
                now=T0 + timedelta(minutes=n),
            )[key]
        )
    assert states == ["retry", "retry", "dead"]
    letter = get_letters(client, es_settings, [key])[key]
    assert (letter.attempts, letter.reason, letter.stage) == (3, "HTTP 503 #2", "fetch")
    assert (letter.first_failed_at, letter.last_failed_at) == (T0, T0 + timedelta(minutes=2))
    assert letter.entry == e


def test_permanent_failures_are_dead_at_once_and_successes_are_forgotten(
    client: Elasticsearch, es_settings: Settings
) -> None:
    gone, fine = entry("/gone.html"), entry("/fine.html")
    queue_pending(client, es_settings, [gone, fine], T0)
    assert {v.state for v in get_letters(client, es_settings, _ids(gone, fine)).values()} == {
        "pending"
    }
    states = deadletter.record_outcomes(
        client,
        es_settings,
        [gone, fine],
        [failed(gone, transient=False, reason="HTTP 404"), ok(fine)],
    )
    assert states == {article_id(gone.link): "dead"}
    letters = get_letters(client, es_settings, _ids(gone, fine))
    assert list(letters) == [article_id(gone.link)]
    assert letters[article_id(gone.link)].queued_at == T0


def test_an_index_failure_is_keyed_by_the_discovered_link(
    client: Elasticsearch, es_settings: Settings
) -> None:
    """The article id may come from the page's canonical URL; the ledger is about the link."""
    e = entry("/amp/story.html?utm_source=rss")
    canonical = "http://127.0.0.1:9/story.html"
    art = Article(
        id=article_id(canonical),
        url=canonical,
        source_url="http://127.0.0.1:9/amp/story.html",
        source="s",
        title="t",
        body="b",
    )
    rejected = Outcome(
        url=canonical,
        status=Status.FAILED,
        stage="index",
        reason="mapper_parsing_exception",
        article_id=art.id,
        source="s",
    )
    deadletter.record_outcomes(client, es_settings, [e], [rejected], [art])
    letters = get_letters(client, es_settings, [article_id(e.link), art.id])
    assert list(letters) == [article_id(e.link)]
    assert letters[article_id(e.link)].entry.link == e.link


def test_queueing_keeps_a_retry_count(client: Elasticsearch, es_settings: Settings) -> None:
    e = entry("/flaky.html")
    deadletter.record_outcomes(client, es_settings, [e], [failed(e, transient=True)])
    queue_pending(client, es_settings, [e])
    letter = get_letters(client, es_settings, [article_id(e.link)])[article_id(e.link)]
    assert (letter.state, letter.attempts) == ("retry", 1)


def test_claim_backlog(client: Elasticsearch, es_settings: Settings) -> None:
    old, new, flaky, other = (
        entry("/old.html"),
        entry("/new.html"),
        entry("/flaky.html"),
        entry("/o.html", source="other"),
    )
    queue_pending(client, es_settings, [old, other], T0)
    queue_pending(client, es_settings, [new], T0 + timedelta(minutes=50))
    deadletter.record_outcomes(client, es_settings, [flaky], [failed(flaky, transient=True)])
    now = T0 + timedelta(minutes=60)

    def links(**kw: object) -> list[str]:
        found = claim_backlog(client, es_settings, ["s"], now=now, **kw)  # type: ignore[arg-type]
        return sorted(e.link for e in found)

    assert links(lease=timedelta(minutes=30)) == sorted([old.link, flaky.link])
    assert links(lease=timedelta(0)) == sorted([old.link, new.link, flaky.link])
    assert links(lease=timedelta(0), exclude={article_id(old.link)}) == sorted(
        [new.link, flaky.link]
    )


def test_dead_links_are_skipped_with_their_reason_until_retried(
    client: Elasticsearch, es_settings: Settings
) -> None:
    gone, fresh = entry("/gone.html"), entry("/fresh.html")
    deadletter.record_outcomes(
        client, es_settings, [gone], [failed(gone, transient=False, reason="HTTP 410")]
    )
    kept, skipped = split_known(client, es_settings, [gone, fresh])
    assert kept == [fresh]
    assert [(o.url, o.status, o.reason) for o in skipped] == [
        (gone.link, Status.SKIPPED, "dead-lettered after 1 attempt(s): HTTP 410")
    ]
    kept, skipped = split_known(client, es_settings, [gone, fresh], include_dead=True)
    assert (kept, skipped) == ([gone, fresh], [])


def _ids(*entries: FeedEntry) -> list[str]:
    return [article_id(e.link) for e in entries]


def test_failures_and_failures_retry_commands(
    client: Elasticsearch, es_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestServer() as site:
        ferry, library = entry("/ferry.html"), entry("/library.html")
        ferry = ferry.model_copy(update={"link": site.url("/ferry.html")})
        library = library.model_copy(update={"link": site.url("/library.html")})
        deadletter.record_outcomes(
            client,
            es_settings,
            [ferry, library],
            [failed(ferry, transient=False, reason="HTTP 404"), failed(library, transient=True)],
            policy=RetrySettings(max_attempts=1),
        )
        monkeypatch.setenv("NEWSDESK_ES_URL", es_settings.es_url or "")
        monkeypatch.setenv("NEWSDESK_INDEX_ALIAS", es_settings.index_alias)
        monkeypatch.setenv("NEWSDESK_DATA_DIR", str(es_settings.data_dir))
        monkeypatch.setenv("NEWSDESK_ALLOW_HOSTS", '["127.0.0.1"]')
        monkeypatch.setenv("COLUMNS", "200")
        get_settings.cache_clear()
        runner = CliRunner()
        try:
            listed = runner.invoke(app, ["failures", "--json"])
            assert listed.exit_code == 0, listed.output
            rows = {r["url"]: r for r in json.loads(listed.output)}
            assert {u: (r["reason"], r["attempts"]) for u, r in rows.items()} == {
                ferry.link: ("HTTP 404", 1),
                library.link: ("x", 1),
            }
            table = runner.invoke(app, ["failures"])
            assert "HTTP 404" in table.output
            assert "failures retry" in table.output

            # the ferry page is back; the library page is still missing
            site.route("/ferry.html", html_route(article_page(FERRY)))
            site.route("/library.html", statuses(404))
            retried = runner.invoke(app, ["failures", "retry", "--json"])
            assert retried.exit_code == 1, retried.output
            results = {o["url"]: o["status"] for o in json.loads(retried.output)}
            assert results[library.link] == "failed"
            assert "indexed" in results.values()

            left = json.loads(runner.invoke(app, ["failures", "--json"]).output)
            assert [(r["url"], r["attempts"], r["reason"]) for r in left] == [
                (library.link, 2, "HTTP 404")
            ]
            site.route("/library.html", html_route(article_page(LIBRARY)))
            again = runner.invoke(app, ["failures", "retry", "--url", library.link])
            assert again.exit_code == 0, again.output
            assert json.loads(runner.invoke(app, ["failures", "--json"]).output) == []
        finally:
            get_settings.cache_clear()
    assert client.count(index=es_settings.index_alias)["count"] == 2
