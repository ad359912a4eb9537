"""Per-source state in its own index, and `newsdesk sources`, on the session's Elasticsearch."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from typer.testing import CliRunner

from newsdesk.cli import app
from newsdesk.index import ensure_index, refresh
from newsdesk.models import Article
from newsdesk.settings import Settings, get_settings
from newsdesk.source_state import (
    ChildState,
    SourceState,
    add_articles,
    load_states,
    save_states,
    source_health,
    state_index,
)
from newsdesk.sources import SourceConfig
from newsdesk.urls import article_id
from newsdesk.writer import write_articles
from tests.newswire import drop_ingest_indices

pytestmark = pytest.mark.es

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def client(es_client: Elasticsearch, es_settings: Settings) -> Iterator[Elasticsearch]:
    ensure_index(es_client, es_settings)
    yield es_client
    drop_ingest_indices(es_client, es_settings)


def article(source: str, n: int, fetched_at: datetime) -> Article:
    url = f"http://127.0.0.1:9/{source}/{n}.html"
    return Article(
        id=article_id(url),
        url=url,
        source_url=url,
        source=source,
        title=f"Story {n}",
        body="Text of the story.",
        fetched_at=fetched_at,
    )


def test_states_round_trip(client: Elasticsearch, es_settings: Settings) -> None:
    assert load_states(client, es_settings, ["a"]) == {}  # no index yet: nothing known
    state = SourceState(
        name="a",
        url="http://127.0.0.1:9/feed.xml",
        etag='"abc"',
        last_modified="Tue, 12 Mar 2024 09:00:00 GMT",
        body_hash="f" * 64,
        children=[ChildState(url="http://127.0.0.1:9/child.xml", etag='"c1"')],
        last_poll_at=NOW,
        last_success_at=NOW,
        last_status="ok",
        next_due_at=NOW + timedelta(minutes=12.5),
        interval_minutes=12.5,
        hint_minutes=10,
        polls=3,
        new_entries=17,
    )
    save_states(client, es_settings, [state])
    assert load_states(client, es_settings, ["a", "b"]) == {"a": state}
    mapping = client.indices.get_mapping(index=state_index(es_settings))
    assert next(iter(mapping.body.values()))["mappings"]["dynamic"] == "strict"


def test_a_poll_does_not_overwrite_article_counts_added_meanwhile(
    client: Elasticsearch, es_settings: Settings
) -> None:
    """Polls store the state they read before polling; the articles of the previous poll may
    have been counted by another run in between."""
    save_states(client, es_settings, [SourceState(name="a", polls=1)])
    add_articles(client, es_settings, {"a": 3}, NOW)
    save_states(client, es_settings, [SourceState(name="a", polls=2, failing_since=None)])
    loaded = load_states(client, es_settings, ["a"])["a"]
    assert (loaded.polls, loaded.articles, loaded.last_new_article_at) == (2, 3, NOW)


def test_concurrent_article_counts_add_up(client: Elasticsearch, es_settings: Settings) -> None:
    threads = [
        threading.Thread(target=add_articles, args=(client, es_settings, {"a": 1, "b": 2}))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    states = load_states(client, es_settings, ["a", "b"])
    assert (states["a"].articles, states["b"].articles) == (8, 16)


def configured() -> list[SourceConfig]:
    return [
        SourceConfig.model_validate({"name": name, "url": f"http://127.0.0.1:9/{name}.xml"})
        for name in ("fresh", "healthy", "broken")
    ]


def seed(client: Elasticsearch, settings: Settings) -> None:
    save_states(
        client,
        settings,
        [
            SourceState(name="healthy", last_poll_at=NOW, consecutive_failures=0, polls=4),
            SourceState(
                name="broken",
                last_poll_at=NOW,
                consecutive_failures=3,
                failing_since=datetime(2024, 4, 30, 8, 15, tzinfo=UTC),
                last_error="HTTP 503",
                polls=9,
            ),
        ],
    )
    write_articles(
        client,
        settings,
        [
            article("healthy", 1, NOW - timedelta(hours=2)),
            article("healthy", 2, NOW),
            article("broken", 1, NOW - timedelta(days=3)),
        ],
    )
    refresh(client, settings)


def test_source_health(client: Elasticsearch, es_settings: Settings) -> None:
    seed(client, es_settings)
    rows = {r.name: r for r in source_health(client, es_settings, configured())}
    assert list(rows) == ["fresh", "healthy", "broken"]
    assert rows["fresh"].health == "never polled"
    assert rows["fresh"].articles == 0
    assert rows["fresh"].last_new_article_at is None
    assert rows["healthy"].health == "ok"
    assert rows["healthy"].articles == 2
    assert rows["healthy"].last_new_article_at == NOW
    assert rows["broken"].health == "failing since 2024-04-30 08:15 UTC"
    assert rows["broken"].articles == 1
    assert rows["broken"].last_error == "HTTP 503"


def test_newsdesk_sources_command(
    client: Elasticsearch,
    es_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(client, es_settings)
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        "sources:\n" + "".join(f"  - name: {s.name}\n    url: {s.url}\n" for s in configured()),
        "utf-8",
    )
    monkeypatch.setenv("NEWSDESK_ES_URL", es_settings.es_url or "")
    monkeypatch.setenv("NEWSDESK_INDEX_ALIAS", es_settings.index_alias)
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        as_json = runner.invoke(app, ["sources", "--feeds", str(feeds), "--json"])
        table = runner.invoke(app, ["sources", "--feeds", str(feeds)])
    finally:
        get_settings.cache_clear()
    assert as_json.exit_code == 0, as_json.output
    rows = {r["name"]: r for r in json.loads(as_json.output)}
    assert {n: (r["health"], r["articles"]) for n, r in rows.items()} == {
        "fresh": ("never polled", 0),
        "healthy": ("ok", 2),
        "broken": ("failing since 2024-04-30 08:15 UTC", 1),
    }
    assert table.exit_code == 0, table.output
    for text in ("never polled", "failing since 2024-04-30 08:15 UTC", "HTTP 503", "2024-05-01"):
        assert text in table.output
