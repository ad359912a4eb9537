"""The search core on a real Elasticsearch, against the synthetic corpus (tests/corpus.py).

Every expectation is computed from the same article list that was indexed, so each test states
its own answer: which ids a query must return, the facet counts, the clusters.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, timedelta

import pytest

from newsdesk.models import Article
from newsdesk.search import (
    CursorError,
    CursorExpired,
    IndexMissing,
    SearchRequest,
    SearchResult,
    close_pit,
    cluster_copies,
    decode_cursor,
    get_article,
    run_quote_search,
    run_search,
    similar_articles,
)
from newsdesk.settings import Settings
from newsdesk.writer import write_articles
from tests.corpus import (
    HOSTILE_TITLE,
    START,
    CorpusIndex,
    build_corpus,
    indexed_corpus,
    story_count,
)

pytestmark = pytest.mark.es

TAG = re.compile(r"<[^>]*>")
TEXT_FIELDS = ("title", "description", "lede", "body")


@pytest.fixture(scope="module")
def ci(es_url: str) -> Iterator[CorpusIndex]:
    with indexed_corpus(es_url) as index:
        yield index


def tokens(text: str | None) -> list[str]:
    return re.findall(r"\w+", (text or "").lower())


def has_word(a: Article, word: str) -> bool:
    return any(word in tokens(getattr(a, f)) for f in TEXT_FIELDS) or any(
        word in tokens(s.heading) for s in a.sections
    )


def has_phrase(text: str | None, phrase: str) -> bool:
    return f" {' '.join(tokens(phrase))} " in f" {' '.join(tokens(text))} "


def text_phrase(a: Article, phrase: str) -> bool:
    return any(has_phrase(getattr(a, f), phrase) for f in TEXT_FIELDS)


def pages(ci: CorpusIndex, req: SearchRequest) -> list[SearchResult]:
    out = [run_search(ci.client, ci.settings, req)]
    while out[-1].next_cursor:
        out.append(
            run_search(
                ci.client, ci.settings, req.model_copy(update={"cursor": out[-1].next_cursor})
            )
        )
        assert len(out) < 200
    return out


def ids(ci: CorpusIndex, req: SearchRequest) -> list[str]:
    return [h.article.id for p in pages(ci, req) for h in p.hits]


def expect(ci: CorpusIndex, keep: Callable[[Article], bool]) -> set[str]:
    return {a.id for a in ci.articles if keep(a)}


def all_of(ci: CorpusIndex, **fields: object) -> list[str]:
    req = SearchRequest.model_validate({"limit": 100, "collapse": False, **fields})
    found = ids(ci, req)
    assert len(found) == len(set(found)), "a page repeated a result"
    return found


def test_corpus_shape(ci: CorpusIndex) -> None:
    """The corpus has what the other tests rely on."""
    arts = ci.articles
    assert len(arts) >= 200
    assert len({a.source for a in arts}) >= 6
    assert len({a.language for a in arts}) >= 4
    assert len({a.authors[0].name for a in arts}) >= 8
    dated = [a.published_at for a in arts if a.published_at]
    assert max(dated) - min(dated) > timedelta(days=700)
    assert sum(1 for a in arts if a.quotes) > 100
    clusters = Counter(a.cluster_id for a in arts if a.cluster_id)
    assert sum(1 for n in clusters.values() if n > 1) >= 20
    assert any(a.title == HOSTILE_TITLE for a in arts)


def test_words_match_the_text_fields(ci: CorpusIndex) -> None:
    found = all_of(ci, query="harbour")
    assert set(found) == expect(ci, lambda a: has_word(a, "harbour"))
    assert len(found) > 20


def test_phrase_or_and_exclusion(ci: CorpusIndex) -> None:
    assert set(all_of(ci, query='"harbour crane"')) == expect(
        ci, lambda a: text_phrase(a, "harbour crane")
    )
    assert set(all_of(ci, query="harbour OR flood")) == expect(
        ci, lambda a: has_word(a, "harbour") or has_word(a, "flood")
    )
    assert set(all_of(ci, query="harbour -crane")) == expect(
        ci, lambda a: has_word(a, "harbour") and not has_word(a, "crane")
    )
    assert set(all_of(ci, query="harbour NOT crane")) == set(all_of(ci, query="harbour -crane"))


def test_field_prefixes(ci: CorpusIndex) -> None:
    def entity(kind: str, phrase: str) -> Callable[[Article], bool]:
        return lambda a: any(e.kind == kind and has_phrase(e.name, phrase) for e in a.entities)

    cases: list[tuple[str, Callable[[Article], bool]]] = [
        ('person:"Ingrid Vos"', entity("person", "Ingrid Vos")),
        ('org:"Port Authority"', entity("organization", "Port Authority")),
        (
            "place:Rotterdam",
            lambda a: (
                entity("place", "Rotterdam")(a)
                or bool(a.dateline and (a.dateline.place or "").lower() == "rotterdam")
            ),
        ),
        ("source:GLOBAL-WIRE", lambda a: a.source == "global-wire"),
        ("author:Lindqvist", lambda a: any(has_phrase(x.name, "Lindqvist") for x in a.authors)),
        ("speaker:Sato", lambda a: any(has_phrase(q.speaker, "Sato") for q in a.quotes)),
        ("title:crane", lambda a: "crane" in tokens(a.title)),
        (
            "harbour -source:global-wire",
            lambda a: has_word(a, "harbour") and a.source != "global-wire",
        ),
    ]
    for query, keep in cases:
        expected = expect(ci, keep)
        assert expected, query
        assert set(all_of(ci, query=query)) == expected, query


@pytest.mark.parametrize(
    "text",
    ['"unclosed harbour', "title:", "((harbour", "- OR", "foo:bar harbour", "*", '\\ " ~ ^'],
)
def test_invalid_syntax_degrades_to_words(ci: CorpusIndex, text: str) -> None:
    result = run_search(ci.client, ci.settings, SearchRequest(query=text, facets=True))
    assert result.total >= 0


def test_degraded_query_still_finds_its_words(ci: CorpusIndex) -> None:
    assert set(all_of(ci, query='"unclosed harbour')) == expect(
        ci, lambda a: has_word(a, "unclosed") and has_word(a, "harbour")
    )
    assert set(all_of(ci, query="((harbour")) == expect(ci, lambda a: has_word(a, "harbour"))


def _eq(a: str | None, b: str) -> bool:
    return (a or "").lower() == b.lower()


FILTER_CASES: list[tuple[dict[str, object], Callable[[Article], bool]]] = [
    (
        {"source": ["metro-daily", "diario-sur"]},
        lambda a: a.source in ("metro-daily", "diario-sur"),
    ),
    ({"language": ["fr"]}, lambda a: a.language == "fr"),
    (
        {"author": ["maya LINDQVIST"]},
        lambda a: any(_eq(x.name, "Maya Lindqvist") for x in a.authors),
    ),
    ({"author_location": ["tokyo"]}, lambda a: any(_eq(x.location, "Tokyo") for x in a.authors)),
    (
        {"person": ["Kenji Sato"]},
        lambda a: any(e.kind == "person" and e.name == "Kenji Sato" for e in a.entities),
    ),
    (
        {"org": ["port authority"]},
        lambda a: any(e.kind == "organization" and e.name == "Port Authority" for e in a.entities),
    ),
    (
        {"place": ["Lagos"]},
        lambda a: any(e.kind == "place" and e.name == "Lagos" for e in a.entities),
    ),
    ({"speaker": ["Ingrid Vos"]}, lambda a: any(_eq(q.speaker, "Ingrid Vos") for q in a.quotes)),
    ({"has_quotes": True}, lambda a: bool(a.quotes)),
    (
        {"since": "2024-03-01", "until": "2024-03-31"},
        lambda a: bool(
            a.published_at and date(2024, 3, 1) <= a.published_at.date() <= date(2024, 3, 31)
        ),
    ),
    (
        {"query": "harbour", "language": ["en"], "has_quotes": True, "since": "2024-01-01"},
        lambda a: (
            has_word(a, "harbour")
            and a.language == "en"
            and bool(a.quotes)
            and bool(a.published_at and a.published_at.date() >= date(2024, 1, 1))
        ),
    ),
]


@pytest.mark.parametrize(("fields", "keep"), FILTER_CASES, ids=[str(f) for f, _ in FILTER_CASES])
def test_filters(
    ci: CorpusIndex, fields: dict[str, object], keep: Callable[[Article], bool]
) -> None:
    expected = expect(ci, keep)
    assert expected
    assert set(all_of(ci, **fields)) == expected


def test_facets_count_articles(ci: CorpusIndex) -> None:
    result = run_search(
        ci.client, ci.settings, SearchRequest(facets=True, facet_size=50, collapse=False)
    )
    got = {name: {v.value: v.count for v in values} for name, values in result.facets.items()}
    arts = ci.articles
    assert got["source"] == Counter(a.source for a in arts)
    assert got["language"] == Counter(a.language for a in arts)
    assert got["author"] == Counter(n for a in arts for n in {x.name for x in a.authors})
    for facet, kind in (("person", "person"), ("org", "organization"), ("place", "place")):
        assert got[facet] == Counter(
            n for a in arts for n in {e.name for e in a.entities if e.kind == kind}
        ), facet
    assert got["speaker"] == Counter(
        n for a in arts for n in {q.speaker for q in a.quotes if q.speaker}
    )


def test_facet_size_bounds_the_values(ci: CorpusIndex) -> None:
    result = run_search(ci.client, ci.settings, SearchRequest(facets=True, facet_size=2))
    assert all(len(v) <= 2 for v in result.facets.values())
    counts = [v.count for v in result.facets["author"]]
    assert counts == sorted(counts, reverse=True)


def test_timeline_over_two_years_is_weekly_and_counts_dated_articles(ci: CorpusIndex) -> None:
    result = run_search(ci.client, ci.settings, SearchRequest(facets=True, collapse=False))
    assert result.timeline is not None
    assert result.timeline.interval == "week"
    assert sum(b.count for b in result.timeline.buckets) == sum(
        1 for a in ci.articles if a.published_at
    )
    month = SearchRequest(facets=True, since=date(2024, 3, 1), until=date(2024, 3, 31))
    daily = run_search(ci.client, ci.settings, month).timeline
    assert daily is not None
    assert daily.interval == "day"
    assert len(daily.buckets) == 31
    assert sum(b.count for b in daily.buckets) == len(
        expect(
            ci,
            lambda a: bool(
                a.published_at and date(2024, 3, 1) <= a.published_at.date() <= date(2024, 3, 31)
            ),
        )
    )


def _newest_first_key(a: Article) -> tuple[float, str]:
    return (-(a.published_at.timestamp() if a.published_at else float("-inf")), a.id)


@pytest.mark.parametrize("limit", [7, 25])
def test_collapsing_shows_the_first_of_each_cluster_with_its_copy_count(
    ci: CorpusIndex, limit: int
) -> None:
    req = SearchRequest(sort="newest", limit=limit, facets=True)
    result_pages = pages(ci, req)
    hits = [h for p in result_pages for h in p.hits]
    shown = [h.article.id for h in hits]
    assert len(shown) == len(set(shown))
    assert result_pages[0].stories == story_count(ci.articles, lambda a: True)
    assert len(shown) == story_count(ci.articles, lambda a: True)
    members: dict[str, list[Article]] = {}
    for a in ci.articles:
        if a.cluster_id:
            members.setdefault(a.cluster_id, []).append(a)
    for hit in hits:
        cluster = hit.article.cluster_id
        if cluster is None:
            assert hit.copies == 0
            continue
        group = sorted(members[cluster], key=_newest_first_key)
        assert hit.article.id == group[0].id
        assert hit.copies == len(group) - 1
    assert sum(1 for h in hits if h.copies) >= 20


def test_collapsing_with_a_query_counts_matching_copies(ci: CorpusIndex) -> None:
    req = SearchRequest(query="harbour", limit=10)
    hits = [h for p in pages(ci, req) for h in p.hits]
    matching = [a for a in ci.articles if has_word(a, "harbour")]
    assert len(hits) == story_count(matching, lambda a: True)
    per_cluster = Counter(a.cluster_id for a in matching if a.cluster_id)
    for hit in hits:
        if hit.article.cluster_id:
            assert hit.copies == per_cluster[hit.article.cluster_id] - 1
    assert len({h.article.cluster_id for h in hits if h.article.cluster_id}) == len(per_cluster)


def test_expanding_a_cluster_lists_every_copy(ci: CorpusIndex) -> None:
    cluster = "wire-4"
    found = all_of(ci, cluster=cluster)
    assert set(found) == expect(ci, lambda a: a.cluster_id == cluster)
    assert len(found) > 1


def test_pages_never_skip_or_repeat_while_ingestion_writes(es_url: str) -> None:
    base = build_corpus()[:120]
    with indexed_corpus(es_url, base) as small:
        for req in (
            SearchRequest(sort="newest", limit=13, collapse=False),
            SearchRequest(query="harbour OR flood OR election", limit=11, collapse=False),
            SearchRequest(sort="oldest", limit=9),
        ):
            first = run_search(small.client, small.settings, req)
            expected_total = first.total
            # New matching articles before, between and after the cursor, with new words that
            # change relevance statistics.
            extra = [
                a.model_copy(
                    update={
                        "id": f"new-{req.sort}-{i}-{a.id}",
                        "url": f"https://late.example/{req.sort}/{i}",
                        "cluster_id": None,
                        "published_at": (a.published_at or START) + timedelta(minutes=i),
                    }
                )
                for i, a in enumerate(base[:40])
            ]
            write_articles(small.client, small.settings, extra)
            small.client.indices.refresh(index=small.settings.index_alias)
            seen = [h.article.id for h in first.hits]
            result = first
            pages_seen = [seen[:]]
            while result.next_cursor:
                result = run_search(
                    small.client,
                    small.settings,
                    req.model_copy(update={"cursor": result.next_cursor}),
                )
                pages_seen.append([h.article.id for h in result.hits])
                seen += pages_seen[-1]
            assert len(seen) == len(set(seen)), "a result repeated"
            assert not any(s.startswith(f"new-{req.sort}-") for s in seen), "a later one leaked in"
            if req.collapse:
                assert len(seen) == story_count(small.articles, lambda a: True)
            else:
                assert len(seen) == expected_total
            # Back one page gives the same page again.
            assert result.prev_cursor
            back = run_search(
                small.client, small.settings, req.model_copy(update={"cursor": result.prev_cursor})
            )
            assert [h.article.id for h in back.hits] == pages_seen[-2]
            assert back.page == len(pages_seen) - 1
            small.articles = small.articles + extra


def test_cursor_errors(ci: CorpusIndex) -> None:
    req = SearchRequest(query="harbour", limit=3)
    first = run_search(ci.client, ci.settings, req)
    assert first.next_cursor
    with pytest.raises(CursorError, match="different query"):
        run_search(
            ci.client, ci.settings, SearchRequest(query="crane", limit=3, cursor=first.next_cursor)
        )
    close_pit(ci.client, decode_cursor(first.next_cursor, req).pit)
    with pytest.raises(CursorExpired):
        run_search(ci.client, ci.settings, req.model_copy(update={"cursor": first.next_cursor}))


def test_missing_index_is_named(es_url: str, tmp_path: object) -> None:
    from newsdesk.es_client import connect

    settings = Settings(es_url=es_url, index_alias="t-never-created")
    client = connect(settings)
    try:
        with pytest.raises(IndexMissing, match="t-never-created"):
            run_search(client, settings, SearchRequest())
    finally:
        client.close()


def test_quote_search_by_speaker_and_words(ci: CorpusIndex) -> None:
    req = SearchRequest(quote_speaker="Kenji Sato", limit=10, collapse=False)
    result = run_quote_search(ci.client, ci.settings, req)
    hits = list(result.hits)
    while result.next_cursor:
        result = run_quote_search(
            ci.client, ci.settings, req.model_copy(update={"cursor": result.next_cursor})
        )
        hits += result.hits
    expected = [
        (a.id, q.text) for a in ci.articles for q in a.quotes if has_phrase(q.speaker, "Kenji Sato")
    ]
    assert sorted((h.article_id, h.text) for h in hits) == sorted(expected)
    assert result.quotes == len(expected)
    assert all(h.speaker == "Kenji Sato" for h in hits)
    assert all(h.title and h.source for h in hits)

    about = run_quote_search(
        ci.client,
        ci.settings,
        SearchRequest(quote_speaker="Ingrid Vos", quote_text="harbour", limit=100, collapse=False),
    )
    expected_about = [
        (a.id, q.text)
        for a in ci.articles
        for q in a.quotes
        if has_phrase(q.speaker, "Ingrid Vos") and "harbour" in tokens(q.text)
    ]
    assert sorted((h.article_id, h.text) for h in about.hits) == sorted(expected_about)
    for h in about.hits:
        assert "<mark>harbour</mark>" in h.html.lower() or "<mark>Harbour</mark>" in h.html
        assert set(TAG.findall(h.html)) <= {"<mark>", "</mark>"}


def test_article_copies_and_similar(ci: CorpusIndex) -> None:
    wire = next(a for a in ci.articles if a.cluster_id == "wire-7" and a.source == "global-wire")
    article = get_article(ci.client, ci.settings, wire.id)
    assert article == wire
    copies = cluster_copies(ci.client, ci.settings, wire)
    assert {c.id for c in copies} == expect(
        ci, lambda a: a.cluster_id == "wire-7" and a.id != wire.id
    )
    similar = similar_articles(ci.client, ci.settings, wire, limit=5)
    assert similar
    assert all(s.id != wire.id and s.cluster_id != "wire-7" for s in similar)


def test_hostile_text_comes_back_escaped_in_highlights(ci: CorpusIndex) -> None:
    result = run_search(
        ci.client,
        ci.settings,
        SearchRequest(query="harbour crane onerror", limit=50, collapse=False),
    )
    hostile = [h for h in result.hits if h.article.title == HOSTILE_TITLE]
    assert len(hostile) == 6
    for hit in hostile:
        assert hit.title_html
        assert "&lt;script&gt;" in hit.title_html
        for fragment in [hit.title_html, *hit.highlights]:
            assert set(TAG.findall(fragment)) <= {"<mark>", "</mark>"}, fragment
        assert hit.article.title == HOSTILE_TITLE  # the data itself is unchanged
