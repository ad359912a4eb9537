"""The articles index on a real Elasticsearch: template, analyzer choice, bulk results."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from elasticsearch import Elasticsearch

from newsdesk.index import CORE_ANALYZER, detect_analysis, ensure_index, refresh, template_body
from newsdesk.models import Article, Author, Status
from newsdesk.search import SearchRequest, run_search
from newsdesk.settings import Settings
from newsdesk.urls import article_id
from newsdesk.writer import write_articles


def make_article(n: int, **extra: object) -> Article:
    url = f"https://news.example/{n}"
    fields: dict[str, object] = {
        "id": article_id(url),
        "url": url,
        "source_url": url,
        "source": "example",
        "title": f"Story number {n}",
        "body": f"Ministers were running late for meeting {n}. The talks continued.",
        "authors": [Author(name="Jane Doe", location="Berlin")],
        "published_at": datetime(2024, 5, n % 28 + 1, tzinfo=UTC),
    }
    fields.update(extra)
    return Article.model_validate(fields)


def test_template_body_defines_the_analyzer_for_each_capability() -> None:
    settings = Settings(index_alias="articles")
    full = template_body(settings, "english")
    core = template_body(settings, "core")
    assert full["index_patterns"] == ["articles-v*"]
    assert full["template"]["settings"]["analysis"]["analyzer"]["newsdesk_text"] == {
        "type": "english"
    }
    assert core["template"]["settings"]["analysis"]["analyzer"]["newsdesk_text"] == CORE_ANALYZER
    assert core["template"]["mappings"]["dynamic"] == "strict"
    assert core["template"]["mappings"]["_meta"]["newsdesk_analysis"] == "core"


@pytest.mark.es
def test_core_only_node_gets_the_core_chain(
    es_client: Elasticsearch, es_settings: Settings
) -> None:
    """The integration-test distribution has no `english` analyzer; the fallback still lets
    English phrases and words match, case-insensitively and without stop words."""
    assert detect_analysis(es_client) == "core"
    ensure_index(es_client, es_settings)
    assert es_client.indices.exists_alias(name=es_settings.index_alias)
    tokens = es_client.indices.analyze(
        index=es_settings.index_name, analyzer="newsdesk_text", text="The Little Rocket Man"
    )
    assert [t["token"] for t in tokens["tokens"]] == ["little", "rocket", "man"]


@pytest.mark.es
def test_ensure_index_is_idempotent(es_client: Elasticsearch, es_settings: Settings) -> None:
    assert ensure_index(es_client, es_settings) == ensure_index(es_client, es_settings)


@pytest.mark.es
def test_rejected_bulk_item_is_reported_and_the_rest_indexed(
    es_client: Elasticsearch, es_settings: Settings
) -> None:
    ensure_index(es_client, es_settings)
    good = [make_article(1), make_article(2)]
    bad = make_article(3, word_count=10**12)  # does not fit the `integer` mapping
    outcomes = write_articles(es_client, es_settings, [good[0], bad, good[1]])
    by_id = {o.article_id: o for o in outcomes}
    assert by_id[bad.id].status is Status.FAILED
    assert "word_count" in (by_id[bad.id].reason or "")
    assert all(by_id[a.id].status is Status.INDEXED for a in good)
    refresh(es_client, es_settings)
    assert es_client.count(index=es_settings.index_alias)["count"] == 2


@pytest.mark.es
def test_article_round_trips_unchanged_and_rewrites_are_idempotent(
    es_client: Elasticsearch, es_settings: Settings
) -> None:
    ensure_index(es_client, es_settings)
    article = make_article(4, keywords=["diplomacy"], provenance={"title": "meta"})
    write_articles(es_client, es_settings, [article])
    write_articles(es_client, es_settings, [article])
    refresh(es_client, es_settings)
    result = run_search(es_client, es_settings, SearchRequest(query="running late"))
    assert result.total == 1
    assert result.hits[0].article == article
    assert result.hits[0].highlights
    by_author = run_search(es_client, es_settings, SearchRequest(author="Jane Doe"))
    assert by_author.total == 1
    none = run_search(es_client, es_settings, SearchRequest(author="John Roe"))
    assert none.total == 0
