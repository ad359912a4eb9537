"""The query language of the search box, parsed by us into Elasticsearch clauses.

Grammar (deliberately small, never an error): words, "exact phrases", `OR` (or `|`) between two
terms, `-term` or `NOT term` to exclude, and `field:value` / `field:"a phrase"` for the fields in
`FIELD_PREFIXES`. Anything else degrades to plain words: an unknown prefix (`http://x`, `12:30`)
is text, an unclosed quote is ignored, parentheses are spaces. User text never reaches
`query_string`; each term becomes its own match/phrase clause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from newsdesk.errors import NewsdeskError

TEXT_FIELDS = ["title^3", "description^2", "lede", "body", "sections.heading^2"]
FIELD_PREFIXES: dict[str, str] = {
    "title": "the headline",
    "author": "a byline name",
    "person": "a person mentioned",
    "place": "a place mentioned or the dateline",
    "org": "an organisation mentioned",
    "source": "the source name",
    "speaker": "who is quoted",
}
MAX_TERMS = 64

_PREFIX = re.compile(r"([A-Za-z]+):")
_OPERATOR_WORDS = {"OR", "|", "AND", "&&", "||", "+"}


class InvalidSearch(NewsdeskError):
    """A search that cannot run as asked (too large, bad cursor…); the message says why."""


class QuerySyntaxError(InvalidSearch):
    """The query is valid syntax but too large to run (too many terms)."""


@dataclass(frozen=True)
class Term:
    """One word or phrase, optionally bound to a field and optionally excluded."""

    text: str
    phrase: bool = False
    field: str | None = None
    negated: bool = False


@dataclass(frozen=True)
class ParsedQuery:
    """`groups` are ANDed; the terms inside one group are ORed. `excluded` terms are NOT."""

    groups: tuple[tuple[Term, ...], ...]
    excluded: tuple[Term, ...]

    @property
    def empty(self) -> bool:
        return not self.groups and not self.excluded

    @property
    def has_text(self) -> bool:
        """True when some positive term scores against the article text."""
        return any(t.field in (None, "title") for g in self.groups for t in g)


def _read_token(text: str, i: int) -> tuple[str, bool, int]:
    """(value, is_phrase, next index) of the token starting at `i` (not whitespace)."""
    if text[i] == '"':
        end = text.find('"', i + 1)
        if end == -1:
            return "", False, i + 1  # an unclosed quote is dropped; what follows is words
        return text[i + 1 : end], True, end + 1
    j = i
    while j < len(text) and not text[j].isspace() and text[j] not in '"()':
        j += 1
    return text[i:j], False, j


def _tokens(text: str) -> list[tuple[str, Term | None]]:
    """("op", None) for operators, ("term", Term) for terms, in order."""
    out: list[tuple[str, Term | None]] = []
    i, negate = 0, False
    while i < len(text):
        ch = text[i]
        if ch.isspace() or ch in "()":
            i += 1
            continue
        if ch == "-" and i + 1 < len(text) and not text[i + 1].isspace():
            negate, i = True, i + 1
            continue
        field = None
        m = _PREFIX.match(text, i)
        if m and m.group(1).lower() in FIELD_PREFIXES and m.end() < len(text):
            nxt = text[m.end()]
            if not nxt.isspace() and nxt not in "()":
                field, i = m.group(1).lower(), m.end()
        value, phrase, i = _read_token(text, i)
        value = value.strip()
        if not phrase and field is None and value in _OPERATOR_WORDS:
            out.append(("op", Term(text=value)))
            negate = False
            continue
        if not phrase and field is None and value == "NOT":
            negate = True
            continue
        if not value.strip("-+*~!^:|&"):
            negate = False
            continue
        out.append(("term", Term(text=value, phrase=phrase, field=field, negated=negate)))
        negate = False
    return out


def parse_query(text: str) -> ParsedQuery:
    """Parse search-box text; never raises for syntax, only for size (`MAX_TERMS`)."""
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    pending_or = False
    count = 0
    for kind, term in _tokens(text):
        assert term is not None
        if kind == "op":
            pending_or = term.text in {"OR", "|", "||"} and bool(groups)
            continue
        count += 1
        if term.negated:
            excluded.append(term)
            pending_or = False
            continue
        if pending_or:
            groups[-1].append(term)
        else:
            groups.append([term])
        pending_or = False
    if count > MAX_TERMS:
        raise QuerySyntaxError(f"the query has {count} terms; at most {MAX_TERMS} are allowed")
    return ParsedQuery(groups=tuple(tuple(g) for g in groups), excluded=tuple(excluded))


def _entity(kind: str, name: str) -> dict[str, Any]:
    return {
        "nested": {
            "path": "entities",
            "query": {
                "bool": {
                    "filter": [{"term": {"entities.kind": kind}}],
                    "must": [{"match_phrase": {"entities.name": name}}],
                }
            },
        }
    }


def term_clause(term: Term) -> dict[str, Any]:
    """The Elasticsearch clause for one term (negation is applied by the caller)."""
    value = term.text
    if term.field is None:
        if term.phrase:
            return {"multi_match": {"query": value, "fields": TEXT_FIELDS, "type": "phrase"}}
        return {"multi_match": {"query": value, "fields": TEXT_FIELDS, "operator": "and"}}
    if term.field == "title":
        if term.phrase:
            return {"match_phrase": {"title": value}}
        return {"match": {"title": {"query": value, "operator": "and"}}}
    if term.field == "author":
        return {"match_phrase": {"authors.name": value}}
    if term.field == "source":
        return {"term": {"source": {"value": value, "case_insensitive": True}}}
    if term.field == "person":
        return _entity("person", value)
    if term.field == "org":
        return _entity("organization", value)
    if term.field == "place":
        return {
            "bool": {
                "should": [
                    _entity("place", value),
                    {"term": {"dateline.place": {"value": value, "case_insensitive": True}}},
                ],
                "minimum_should_match": 1,
            }
        }
    if term.field == "speaker":
        return {"nested": {"path": "quotes", "query": {"match_phrase": {"quotes.speaker": value}}}}
    raise AssertionError(f"unhandled field {term.field}")


def query_clauses(parsed: ParsedQuery) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(must, must_not) clauses for a parsed query."""
    must: list[dict[str, Any]] = []
    for group in parsed.groups:
        clauses = [term_clause(t) for t in group]
        if len(clauses) == 1:
            must.append(clauses[0])
        else:
            must.append({"bool": {"should": clauses, "minimum_should_match": 1}})
    must_not = [term_clause(t) for t in parsed.excluded]
    return must, must_not


def syntax_hint() -> str:
    """One line for the search box and the CLI help."""
    prefixes = " ".join(f"{p}:" for p in FIELD_PREFIXES)
    return f'words  "exact phrase"  a OR b  -exclude  {prefixes}'
