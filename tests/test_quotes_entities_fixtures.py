"""Quotes and entities on the fixture pages (tests/fixtures/pages/*/expected.json).

Paragraphs come from the real article extractor, so a name the body extractor did not keep
cannot be asked of this stage: expected names and quotes that do not occur in the extracted
paragraphs are left to the body tests and skipped here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from extractors.entities import extract_entities
from extractors.quotes import extract_quotes
from newsdesk.models import Entity, Quote

PAGES = Path(__file__).parent / "fixtures" / "pages"
_KEYS = ("quotes", "people", "places", "organizations", "not_entities", "not_quotes")
_KINDS = {"people": "person", "places": "place", "organizations": "organization"}
# Known misses of the model-free extractor, with the reason; each must still be a miss.
_KNOWN_GAPS = {
    (
        "german_article",
        "Finkenwerder",
    ): "a district named after 'und': no cue, not in the gazetteer",
    ("live_blog", "Tiree"): "an island named after 'on', which is no place cue ('on Twitter')",
}


def _cases() -> list[Path]:
    found = []
    for expected in sorted(PAGES.glob("*/expected.json")):
        data = json.loads(expected.read_text("utf-8"))
        if data.get("is_article", True) and any(data.get(key) for key in _KEYS):
            found.append(expected.parent)
    return found


def _extract(page: Path) -> tuple[dict[str, Any], str, list[Entity], list[Quote]]:
    from extractors.article import extract_article

    expected = json.loads((page / "expected.json").read_text("utf-8"))
    html = (page / "page.html").read_bytes()
    try:
        fields = extract_article(html, expected["url"])
    except NotImplementedError:
        pytest.skip("extractors.article.extract_article is not implemented yet")
    paragraphs = [p for section in fields.sections for p in section.paragraphs]
    entities = extract_entities(paragraphs)
    return expected, "\n".join(paragraphs), entities, extract_quotes(paragraphs, entities)


@pytest.mark.parametrize("page", _cases(), ids=lambda p: p.name)
def test_entities_match_fixture(page: Path) -> None:
    expected, text, entities, _ = _extract(page)
    have = {(e.name, e.kind) for e in entities}
    missing = []
    for key, kind in _KINDS.items():
        for name in expected.get(key, []):
            if name not in text:
                continue
            if (page.name, name) in _KNOWN_GAPS:
                assert (name, kind) not in have, f"{name} is found now: drop it from _KNOWN_GAPS"
            elif (name, kind) not in have:
                missing.append(f"{kind} {name}")
    assert not missing, f"missing {missing}; got {sorted(have)}"
    names = {e.name for e in entities}
    assert not names & set(expected.get("not_entities", []))


@pytest.mark.parametrize("page", _cases(), ids=lambda p: p.name)
def test_quotes_match_fixture(page: Path) -> None:
    expected, text, _, quotes = _extract(page)
    for want in expected.get("quotes", []):
        start = want["text_startswith"]
        if start not in text:
            continue
        found = [q for q in quotes if q.text.startswith(start)]
        assert found, f"no quote starting {start!r}: {[q.text[:40] for q in quotes]}"
        quote = found[0]
        if "verb" in want:
            assert quote.verb == want["verb"]
        if quote.speaker_kind == "description":
            # a described source may keep more of its description ("an official of …")
            assert want["speaker"].lower() in (quote.speaker or "").lower()
        else:
            assert quote.speaker == want["speaker"]
    for phrase in expected.get("not_quotes", []):
        assert not [q for q in quotes if phrase in q.text], phrase
