"""The pure half of the search core: request bodies, responses, highlights, timelines, cursors."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from newsdesk.search import (
    CursorError,
    SearchRequest,
    _CursorState,
    build_query,
    choose_interval,
    cluster_check_query,
    decode_cursor,
    encode_cursor,
    parse_response,
    request_key,
    safe_fragment,
    sort_spec,
    timeline_from_days,
)

TAG = re.compile(r"<[^>]*>")


def test_filters_become_exact_case_insensitive_terms() -> None:
    req = SearchRequest(
        source=["harbour-times", "metro-daily"],
        author="Maya Lindqvist",
        person=["Ingrid Vos"],
        org=["Port Authority"],
        place=["Rotterdam"],
        speaker=["Kenji Sato"],
        language="en",
        author_location=["Tokyo"],
        has_quotes=True,
        since=date(2024, 1, 1),
        until=date(2024, 1, 31),
    )
    body = build_query(req)
    filters = body["query"]["bool"]["filter"]
    text = json.dumps(filters)
    assert '"case_insensitive": true' in text
    assert {"range": {"published_at": {"gte": "2024-01-01", "lte": "2024-01-31||/d"}}} in filters
    assert len(filters) == 10
    kinds = re.findall(r'"entities.kind": "(\w+)"', text)
    assert sorted(kinds) == ["organization", "person", "place"]


def test_single_strings_are_accepted_for_list_filters() -> None:
    assert SearchRequest(source="a").source == ["a"]
    assert SearchRequest(source=None).source == []
    assert SearchRequest(source=["a", " ", ""]).source == ["a"]


@pytest.mark.parametrize(
    "bad",
    [
        {"limit": 0},
        {"limit": 101},
        {"facet_size": 500},
        {"query": "x" * 2001},
        {"source": [f"s{i}" for i in range(21)]},
        {"sort": "random"},
        {"since": "yesterday"},
        {"unknown": 1},
    ],
)
def test_request_limits(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SearchRequest.model_validate(bad)


def test_sort_is_a_total_order_and_relevance_without_words_is_by_date() -> None:
    assert sort_spec(SearchRequest(query="x"))[0] == {"_score": {"order": "desc"}}
    assert sort_spec(SearchRequest(query="x"))[-1] == {"id": {"order": "asc"}}
    assert SearchRequest(query="source:x").effective_sort == "newest"
    assert SearchRequest(quote_text="x").effective_sort == "relevance"
    assert sort_spec(SearchRequest(sort="oldest"))[0]["published_at"]["order"] == "asc"


def test_body_has_highlights_html_encoded_and_aggs_on_demand() -> None:
    body = build_query(SearchRequest(query="harbour", facets=True), pit="P", after=[1, "x"])
    assert body["highlight"]["encoder"] == "html"
    assert body["highlight"]["pre_tags"] == ["<mark>"]
    assert body["pit"] == {"id": "P", "keep_alive": "5m"}
    assert body["search_after"] == [1, "x"]
    assert set(body["aggs"]) >= {"source", "author", "person", "org", "place", "language"}
    assert body["aggs"]["person"]["nested"]["path"] == "entities"
    assert "aggs" not in build_query(SearchRequest(query="harbour"))
    assert "query_string" not in json.dumps(body)


def test_cluster_check_asks_for_the_first_of_each_cluster_in_the_same_order() -> None:
    req = SearchRequest(query="harbour", sort="newest")
    body = cluster_check_query(req, ["c1", "c2"], pit="P")
    assert {"terms": {"cluster_id": ["c1", "c2"]}} in body["query"]["bool"]["filter"]
    first = body["aggs"]["clusters"]["aggs"]["first"]["top_hits"]
    assert first["sort"] == sort_spec(req)
    assert first["size"] == 1


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ("plain &lt;script&gt; <mark>hit</mark>", "plain &lt;script&gt; <mark>hit</mark>"),
        (
            "<script>alert(1)</script><mark>x</mark>",
            "&lt;script&gt;alert(1)&lt;/script&gt;<mark>x</mark>",
        ),
        ('<img src=x onerror="a()">', "&lt;img src=x onerror=&quot;a()&quot;&gt;"),
        ("<mark>open", "<mark>open</mark>"),
        ("</mark>stray", "stray"),
        ("&amp;lt;b&amp;gt;", "&amp;lt;b&amp;gt;"),
    ],
)
def test_safe_fragment_keeps_only_mark_tags(fragment: str, expected: str) -> None:
    out = safe_fragment(fragment)
    assert out == expected
    assert set(TAG.findall(out)) <= {"<mark>", "</mark>"}


def _resp(**aggs: object) -> dict[str, object]:
    return {"hits": {"total": {"value": 3}, "hits": []}, "aggregations": aggs}


def test_parse_response_reads_facets_nested_and_flat() -> None:
    resp = _resp(
        source={"buckets": [{"key": "a", "doc_count": 2}]},
        person={
            "values": {
                "values": {"buckets": [{"key": "P", "doc_count": 5, "articles": {"doc_count": 3}}]}
            }
        },
        speaker={
            "values": {"buckets": [{"key": "S", "doc_count": 4, "articles": {"doc_count": 2}}]}
        },
        clusters={"value": 2},
        unclustered={"doc_count": 1},
    )
    result = parse_response(resp)
    assert result.facets["source"][0].count == 2
    assert result.facets["person"][0].count == 3  # articles, not mentions
    assert result.facets["speaker"][0].count == 2
    assert result.stories == 3


def test_timeline_interval_follows_the_range() -> None:
    assert choose_interval(date(2024, 1, 1), date(2024, 2, 1)) == "day"
    assert choose_interval(date(2023, 1, 1), date(2024, 12, 31)) == "week"
    assert choose_interval(date(2015, 1, 1), date(2024, 12, 31)) == "month"
    assert choose_interval(date(1950, 1, 1), date(2024, 12, 31)) == "year"


def test_timeline_rolls_up_days_and_fills_gaps() -> None:
    days = {date(2024, 1, 3): 2, date(2024, 3, 10): 1, date(2024, 3, 11): 4}
    tl = timeline_from_days(days, since=date(2024, 1, 1), until=date(2024, 12, 31))
    assert tl is not None
    assert tl.interval == "week"
    assert sum(b.count for b in tl.buckets) == 7
    assert tl.buckets[0].start == date(2024, 1, 1)  # a Monday
    assert all(b.start.weekday() == 0 for b in tl.buckets)
    starts = [b.start for b in tl.buckets]
    assert starts == sorted(starts)
    assert len(starts) == len(set(starts))
    daily = timeline_from_days(days, since=date(2024, 3, 1), until=date(2024, 3, 31))
    assert daily is not None
    assert daily.interval == "day"
    assert len(daily.buckets) == 31
    assert sum(b.count for b in daily.buckets) == 5  # days outside the range are not counted
    assert timeline_from_days({}) is None


def test_timeline_of_parse_response_uses_request_dates() -> None:
    key = int(datetime(2024, 5, 2, tzinfo=UTC).timestamp() * 1000)
    resp = _resp(timeline={"buckets": [{"key": key, "doc_count": 9}]})
    req = SearchRequest(since=date(2024, 5, 1), until=date(2024, 5, 7))
    tl = parse_response(resp, req).timeline
    assert tl is not None
    assert tl.interval == "day"
    assert len(tl.buckets) == 7
    assert [b.count for b in tl.buckets] == [0, 9, 0, 0, 0, 0, 0]


def test_cursor_round_trip_and_binding_to_the_query() -> None:
    req = SearchRequest(query="harbour", source="a", limit=5)
    state = _CursorState(pit="PIT", after=[1.5, 17, "id"], history=[None], key=request_key(req))
    token = encode_cursor(state)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert decode_cursor(token, req.model_copy(update={"limit": 50})) == state
    with pytest.raises(CursorError, match="different query"):
        decode_cursor(token, req.model_copy(update={"query": "crane"}))
    for junk in ("", "abc", "!!!", token[:-3]):
        with pytest.raises(CursorError):
            decode_cursor(junk, req)
