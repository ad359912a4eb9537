"""Model-free entities: the reference article, texts of our own, the extractor selection and the
spaCy adapter (with a blank pipeline and an entity ruler: no model download)."""

from __future__ import annotations

import time

import pytest

from extractors import names
from extractors.entities import (
    EntityExtractor,
    RuleEntityExtractor,
    extract_entities,
    get_extractor,
)
from newsdesk.errors import ConfigError
from newsdesk.models import Entity
from tests.test_quotes import seed_paragraphs


def _by_kind(entities: list[Entity]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {"person": {}, "organization": {}, "place": {}}
    for entity in entities:
        table[entity.kind][entity.name] = entity.count
    return table


@pytest.fixture(scope="module")
def seed() -> dict[str, dict[str, int]]:
    return _by_kind(extract_entities(seed_paragraphs()))


@pytest.mark.parametrize(
    "name",
    [
        "Donald Trump",
        "Shinzo Abe",
        "Rex Tillerson",
        "Rodrigo Duterte",
        "William Hagerty",
        "Taro Aso",
        "Mike Pence",
    ],
)
def test_seed_people(seed: dict[str, dict[str, int]], name: str) -> None:
    assert name in seed["person"]


@pytest.mark.parametrize(
    "name",
    [
        "Japan",
        "United States",
        "Beijing",
        "North Korea",
        "China",
        "Florida",
        "India",
        "Australia",
        "New York",
        "Mar-a-Lago",
        "Korean Peninsula",
    ],
)
def test_seed_places(seed: dict[str, dict[str, int]], name: str) -> None:
    assert name in seed["place"]


@pytest.mark.parametrize(
    "name", ["ASEAN", "Congressional Research Service", "Self-Defense Forces", "TPP"]
)
def test_seed_organizations(seed: dict[str, dict[str, int]], name: str) -> None:
    assert name in seed["organization"]


def test_seed_mentions_merge_into_full_names(seed: dict[str, dict[str, int]]) -> None:
    people = seed["person"]
    # "Abe", "Shinzo" and "Prime Minister Abe" all count toward the full name
    assert people["Shinzo Abe"] > 15
    assert people["Donald Trump"] > 25
    assert people["Rex Tillerson"] > 5
    assert not {"Abe", "Trump", "Tillerson", "Shinzo", "Rex", "Pence"} & set(people)
    # "U.S.", "Japan-U.S." and "U.S.-DPRK" are all the United States
    assert seed["place"]["United States"] > 20
    assert "U.S." not in seed["place"]
    assert seed["place"]["North Korea"] >= 10  # includes "DPRK"


def test_seed_has_no_junk(seed: dict[str, dict[str, int]]) -> None:
    every = {name for table in seed.values() for name in table}
    junk = {
        "However",
        "Those",
        "Now",
        "After",
        "While",
        "With",
        "According",
        "Oct",
        "Oct.",
        "Nov",
        "Nov.",
        "Little Rocket Man",
        "Kim",
        "FTA",  # the article spells it out as a common noun: "free trade agreement (FTA)"
        "Japanese",
        "President",
        "Prime Minister",
        "Sony",
    }
    assert not every & junk
    assert not [name for name in every if name.lower().startswith("the ")]


def test_byline_cities() -> None:
    """Washington and Tokyo appear only in the byline, which is not a body paragraph."""
    table = _by_kind(
        extract_entities(["By Kenji Minemura, Shigeki Tosa in Washington; Kotaro Ono in Tokyo"])
    )
    assert {"Washington", "Tokyo"} <= set(table["place"])


def test_wire_copy() -> None:
    table = _by_kind(
        extract_entities(
            [
                "Acme Corp. will cut 1,200 jobs at its plant in Springfield, Illinois, the "
                "company said Tuesday.",
                "“We did not take this decision lightly,” said Jane Doe, a spokeswoman for Acme "
                "Corp. Gov. Tom Rivers called the cuts devastating.",
                "Rivers met union leaders in Chicago. Union leader Maria Lopez said workers "
                "were angry.",
            ]
        )
    )
    assert table["person"] == {"Jane Doe": 1, "Tom Rivers": 2, "Maria Lopez": 1}
    assert table["organization"] == {"Acme Corp.": 2}
    assert set(table["place"]) == {"Springfield", "Illinois", "Chicago"}


def test_titles_and_honorifics_are_stripped() -> None:
    table = _by_kind(
        extract_entities(
            [
                "Deputy Prime Minister Taro Aso met Secretary of State Rex Tillerson and "
                "Ms. Jane Roe. U.S. Ambassador to Japan William Hagerty joined them.",
                "Aso later spoke to Dr. Sam Poe of the University of Tokyo.",
            ]
        )
    )
    assert table["person"] == {
        "Taro Aso": 2,
        "Rex Tillerson": 1,
        "Jane Roe": 1,
        "William Hagerty": 1,
        "Sam Poe": 1,
    }
    assert table["organization"] == {"University of Tokyo": 1}
    assert table["place"] == {"United States": 1, "Japan": 1, "Tokyo": 1}


def test_german_nouns_are_not_people() -> None:
    table = _by_kind(
        extract_entities(
            [
                "Die Fähren im Hamburger Hafen sollen ohne Diesel auskommen. Wie die "
                "Verkehrsbehörde am Dienstag mitteilte, werden alle Schiffe ersetzt.",
                "„Die Fähren sind für viele Menschen der Weg zur Arbeit“, sagte Verkehrssenator "
                "Michael Brandt in Hamburg. Die Fähren fahren bald elektrisch.",
            ]
        )
    )
    assert table["person"] == {"Michael Brandt": 1}
    assert table["place"] == {"Hamburg": 1}


def test_empty_input() -> None:
    assert extract_entities([]) == []
    assert extract_entities(["", "no capitals at all here."]) == []


def test_tokenizer_keeps_abbreviations_and_compounds() -> None:
    tokens = [t.text for t in names.tokenize("The U.S.-Japan talks in Mar-a-Lago, Abe’s idea.")]
    assert tokens == ["The", "U.S.-Japan", "talks", "in", "Mar-a-Lago", ",", "Abe", "idea", "."]


def test_strip_title() -> None:
    assert names.strip_title("President Donald Trump") == "Donald Trump"
    assert names.strip_title("Prime Minister Abe") == "Abe"
    assert names.strip_title("U.S. Ambassador to Japan William Hagerty") == "William Hagerty"
    assert names.strip_title("Attorney General Jeff Sessions") == "Jeff Sessions"
    assert names.strip_title("Jane Doe") == "Jane Doe"


def test_extractor_selection() -> None:
    extractor: EntityExtractor = get_extractor("rules")
    assert isinstance(extractor, RuleEntityExtractor)
    assert isinstance(get_extractor(), RuleEntityExtractor)
    with pytest.raises(ConfigError, match="unknown entity extractor"):
        get_extractor("crystal-ball")
    with pytest.raises(ConfigError, match="not installed"):
        get_extractor("spacy:no_such_model_package")


def test_spacy_adapter_with_entity_ruler() -> None:
    spacy = pytest.importorskip("spacy", reason="spaCy is an optional dev dependency")
    from extractors.ner_spacy import SpacyEntityExtractor

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(
        [
            {"label": "PERSON", "pattern": "President Donald Trump"},
            {"label": "PERSON", "pattern": "Trump"},
            {"label": "GPE", "pattern": "U.S."},
            {"label": "GPE", "pattern": "Japan"},
            {"label": "ORG", "pattern": "the Self-Defense Forces"},
            {"label": "DATE", "pattern": "Monday"},
        ]
    )
    entities = SpacyEntityExtractor(nlp)(
        [
            "President Donald Trump met the Self-Defense Forces in Japan on Monday.",
            "Trump said the U.S. stands with Japan.",
        ]
    )
    assert _by_kind(entities) == {
        "person": {"Donald Trump": 2},
        "organization": {"Self-Defense Forces": 1},
        "place": {"Japan": 2, "United States": 1},
    }


def test_rules_are_fast_enough() -> None:
    """Entities and quotes together stay well below trafilatura's own time per page."""
    from extractors.quotes import extract_quotes

    paragraphs = seed_paragraphs()
    extract_entities(paragraphs)  # gazetteers load once
    names._tokenize.cache_clear()
    started = time.perf_counter()
    for _ in range(10):
        names._tokenize.cache_clear()
        names.sentence_spans.cache_clear()
        extract_quotes(paragraphs, extract_entities(paragraphs))
    assert (time.perf_counter() - started) / 10 < 0.25
