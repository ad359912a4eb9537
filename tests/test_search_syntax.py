"""The search-box language: what each input parses to, and that nothing raises on bad syntax."""

from __future__ import annotations

import json

import pytest

from newsdesk.search_syntax import (
    MAX_TERMS,
    ParsedQuery,
    QuerySyntaxError,
    Term,
    parse_query,
    query_clauses,
    term_clause,
)


def test_words_phrases_or_and_exclusions() -> None:
    parsed = parse_query('harbour "crane strike" OR lockout -opinion NOT editorial')
    assert parsed.groups == (
        (Term("harbour"),),
        (Term("crane strike", phrase=True), Term("lockout")),
    )
    assert parsed.excluded == (
        Term("opinion", negated=True),
        Term("editorial", negated=True),
    )


def test_field_prefixes_from_the_allow_list() -> None:
    parsed = parse_query('person:"Ingrid Vos" source:global-wire title:crane Speaker:Sato')
    assert [(t.field, t.text, t.phrase) for (t,) in parsed.groups] == [
        ("person", "Ingrid Vos", True),
        ("source", "global-wire", False),
        ("title", "crane", False),
        ("speaker", "Sato", False),
    ]


def test_unknown_prefixes_and_urls_stay_text() -> None:
    parsed = parse_query("body:x https://example.org/a 12:30")
    assert [t.field for (t,) in parsed.groups] == [None, None, None]
    assert [t.text for (t,) in parsed.groups] == ["body:x", "https://example.org/a", "12:30"]


@pytest.mark.parametrize(
    "text",
    [
        '"unclosed harbour',
        "title:",
        "title: crane",
        "((harbour",
        ")",
        "-",
        "--",
        "OR OR harbour OR",
        "AND",
        "NOT",
        "*",
        "~^|&!",
        '"" "',
        "a" * 3000,
        "\\",
        "person:",
        'person:"',
        "\x00\x1f",
    ],
)
def test_bad_syntax_degrades_and_never_raises(text: str) -> None:
    parsed = parse_query(text)
    must, must_not = query_clauses(parsed)
    json.dumps(must + must_not)  # a plain JSON body, whatever came in


def test_bad_syntax_keeps_the_words() -> None:
    parsed = parse_query('"unclosed harbour')
    assert [t.text for (t,) in parsed.groups] == ["unclosed", "harbour"]
    assert parse_query("title: crane").groups == ((Term("title:"),), (Term("crane"),))


def test_too_many_terms_is_a_clear_error() -> None:
    with pytest.raises(QuerySyntaxError, match=f"at most {MAX_TERMS}"):
        parse_query(" ".join(f"w{i}" for i in range(MAX_TERMS + 1)))


def test_empty_query() -> None:
    assert parse_query("   ").empty
    assert not parse_query("  x ").empty


def test_no_query_string_anywhere() -> None:
    parsed = parse_query(
        'a "b c" OR d -e title:f author:g person:h place:i org:j source:k speaker:l'
    )
    body = json.dumps(query_clauses(parsed))
    assert "query_string" not in body


def test_field_clauses_target_our_fields() -> None:
    assert term_clause(Term("Vos", field="speaker"))["nested"]["path"] == "quotes"
    person = term_clause(Term("Ingrid Vos", phrase=True, field="person"))
    assert person["nested"]["query"]["bool"]["filter"] == [{"term": {"entities.kind": "person"}}]
    org = term_clause(Term("Union", field="org"))
    assert org["nested"]["query"]["bool"]["filter"] == [{"term": {"entities.kind": "organization"}}]
    place = json.dumps(term_clause(Term("Tokyo", field="place")))
    assert "dateline.place" in place
    assert '"place"' in place
    assert term_clause(Term("Jane Doe", phrase=True, field="author")) == {
        "match_phrase": {"authors.name": "Jane Doe"}
    }
    assert term_clause(Term("BBC", field="source")) == {
        "term": {"source": {"value": "BBC", "case_insensitive": True}}
    }


def test_has_text_is_what_relevance_can_score() -> None:
    assert ParsedQuery(groups=((Term("x"),),), excluded=()).has_text
    assert not parse_query("source:x person:y").has_text
    assert parse_query("title:x").has_text
