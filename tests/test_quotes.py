"""Direct quotations with speakers: the reference article, plus short texts of our own in wire,
feature, German and Spanish styles."""

from __future__ import annotations

from pathlib import Path

import pytest

from extractors.entities import extract_entities
from extractors.quotes import extract_quotes
from newsdesk.models import Quote

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "article.txt"
_SUBHEADINGS = {"Trust built at meeting last fall", "Schisms in the U.S. administration"}


def seed_paragraphs() -> list[str]:
    """Body paragraphs of the reference article: without the "print" line, title, byline,
    subheadings and the trailing list of links. Skips when the shared corpus is absent."""
    if not SEED.exists():
        pytest.skip(f"reference article not found at {SEED}")
    blocks = [b.strip() for b in SEED.read_text("utf-8").split("\n\n") if b.strip()]
    return [b for b in blocks[3:] if b not in _SUBHEADINGS and not b.startswith("•")]


def _quotes(paragraphs: list[str]) -> list[Quote]:
    return extract_quotes(paragraphs, extract_entities(paragraphs))


def _find(quotes: list[Quote], start: str) -> Quote:
    found = [q for q in quotes if q.text.startswith(start)]
    assert found, f"no quote starting {start!r} in {[q.text[:40] for q in quotes]}"
    return found[0]


@pytest.fixture(scope="module")
def seed_quotes() -> list[Quote]:
    return _quotes(seed_paragraphs())


@pytest.mark.parametrize(
    ("start", "speaker"),
    [
        ("Shinzo, what do you think of Rex’s", "Donald Trump"),
        ("I told Rex Tillerson, our wonderful Secretary of State", "Donald Trump"),
        ("Now is not the time for dialogue", "Shinzo Abe"),
        ("If we are attacked, Japan does not have to do anything", "Donald Trump"),
        ("Prime Minister Abe made an excellent impression", "William Hagerty"),
        ("As we look to the next 100 years", "Rex Tillerson"),
        ("He was a different man from the one we know", "Shinzo Abe"),
        ("Okay, if that’s what you say, Shinzo, I will meet with him.", "Donald Trump"),
        ("It would be better to meet with him.", "Shinzo Abe"),
    ],
)
def test_seed_quotes_resolve_speakers_to_full_names(
    seed_quotes: list[Quote], start: str, speaker: str
) -> None:
    quote = _find(seed_quotes, start)
    assert (quote.speaker, quote.speaker_kind) == (speaker, "person")


def test_seed_quote_verbs_and_paragraphs(seed_quotes: list[Quote]) -> None:
    assert _find(seed_quotes, "I told Rex Tillerson").verb == "tweeted"
    assert _find(seed_quotes, "Shinzo, what do you think").verb == "asked"
    assert _find(seed_quotes, "Prime Minister Abe made").verb == "recalls"
    assert _find(seed_quotes, "As we look to the next").verb == "stated"
    assert _find(seed_quotes, "Okay, if that’s what you say").verb == "responded"
    paragraphs = seed_paragraphs()
    for quote in seed_quotes:
        assert quote.text[:30] in paragraphs[quote.paragraph]


def test_seed_described_source(seed_quotes: list[Quote]) -> None:
    quote = _find(seed_quotes, "President Trump’s behavior is unpredictable")
    assert quote.speaker == "a former senior U.S. government official"
    assert quote.speaker_kind == "description"


@pytest.mark.parametrize(
    "term",
    [
        "sound out",
        "bulwark",
        "embroiled",
        "abandoned",
        "unprecedented",
        "free and open Indo-Pacific",
        "one hundred percent support",
        "put all options on the table",
        "very important and strong democracies",
        "deal",
    ],
)
def test_scare_quotes_and_terms_are_not_quotes(seed_quotes: list[Quote], term: str) -> None:
    assert not [q for q in seed_quotes if q.text.strip(".”") == term]


def test_wire_copy_trailing_attribution_and_continuation() -> None:
    paragraphs = [
        "SPRINGFIELD, Ill. (AP) — Acme Corp. will cut 1,200 jobs at its plant in Springfield, "
        "Illinois, the company said Tuesday.",
        "“We did not take this decision lightly,” said Jane Doe, a spokeswoman for Acme Corp. "
        "“Our priority is to support every affected employee.”",
        "Gov. Tom Rivers called the cuts “devastating” and said the state would help. “This is a "
        "hard day for our families,” Rivers told reporters in Chicago.",
        "“The market has changed,” he said.",
    ]
    quotes = _quotes(paragraphs)
    assert [(q.speaker, q.verb, q.paragraph) for q in quotes] == [
        ("Jane Doe", "said", 1),
        ("Jane Doe", "said", 1),
        ("Tom Rivers", "told", 2),
        ("Tom Rivers", "said", 3),
    ]
    assert quotes[0].text == "We did not take this decision lightly"
    assert not [q for q in quotes if "devastating" in q.text]


def test_straight_quotes_colon_and_apposition() -> None:
    paragraphs = [
        "Dr. Sarah Chen has studied coral reefs off the coast of Australia for two decades.",
        '"The reef is dying faster than we expected," Chen said in an interview. "We have '
        'perhaps ten years."',
        'Her colleague, marine biologist Tom Baker, was more cautious: "I would not give up on '
        'it yet."',
        'The "bleaching events" have become routine.',
    ]
    quotes = _quotes(paragraphs)
    assert [(q.text, q.speaker) for q in quotes] == [
        ("The reef is dying faster than we expected", "Sarah Chen"),
        ("We have perhaps ten years.", "Sarah Chen"),
        ("I would not give up on it yet.", "Tom Baker"),
    ]


def test_according_to_and_described_speaker() -> None:
    paragraphs = [
        "“The water level has never been this low in March,” according to a report by the "
        "regional water authority.",
        "A senior engineer, who asked not to be named, said the dam was safe. “There is no "
        "danger to anyone living downstream,” she said.",
    ]
    quotes = _quotes(paragraphs)
    assert [(q.speaker, q.speaker_kind, q.verb) for q in quotes] == [
        ("a report by the regional water authority", "description", "according to"),
        ("a senior engineer", "description", "said"),
    ]


def test_german_quotes() -> None:
    paragraphs = [
        "Bundeskanzlerin Angela Merkel hat am Montag in Berlin die Pläne verteidigt.",
        "„Wir schaffen das“, sagte Merkel vor Journalisten.",
        "Die SPD kritisierte den Vorschlag als „unausgegoren“.",
        "„Die Fähren sind für viele Menschen der tägliche Weg zur Arbeit“, sagte "
        "Verkehrssenator Michael Brandt.",
    ]
    quotes = _quotes(paragraphs)
    assert [(q.text[:16], q.speaker, q.verb) for q in quotes] == [
        ("Wir schaffen das", "Angela Merkel", "sagte"),
        ("Die Fähren sind ", "Michael Brandt", "sagte"),
    ]


def test_spanish_guillemets_with_apposed_name() -> None:
    paragraphs = [
        "«Queremos que ninguna persona mayor tenga que pasar la tarde encerrada», afirmó la "
        "delegada de Medio Ambiente, Carmen Villalobos, durante la presentación."
    ]
    [quote] = _quotes(paragraphs)
    assert (quote.speaker, quote.verb) == ("Carmen Villalobos", "afirmó")


def test_unclosed_quote_runs_to_paragraph_end() -> None:
    paragraphs = [
        "The mayor, Ana Ruiz, spoke for an hour.",
        "“We will rebuild every house on this street. We will not leave anyone behind.",
        "“Nobody here is giving up,” Ruiz said.",
    ]
    quotes = _quotes(paragraphs)
    assert quotes[0].text.startswith("We will rebuild every house")
    assert quotes[-1].speaker == "Ana Ruiz"


def test_no_paragraphs_and_no_quotes() -> None:
    assert extract_quotes([], []) == []
    assert _quotes(["No one said anything quotable here."]) == []
