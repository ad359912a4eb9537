"""Bylines to structured authors, and wire datelines."""

from __future__ import annotations

import pytest

from extractors.byline import normalize_case, parse_byline
from extractors.dateline import parse_dateline


def _authors(text: str) -> list[dict[str, str]]:
    return [a.model_dump(exclude_none=True) for a in parse_byline(text)]


@pytest.mark.parametrize(
    ("byline", "expected"),
    [
        (
            "By Kenji Minemura, Shigeki Tosa in Washington; Kotaro Ono in Tokyo",
            [
                {"name": "Kenji Minemura", "location": "Washington"},
                {"name": "Shigeki Tosa", "location": "Washington"},
                {"name": "Kotaro Ono", "location": "Tokyo"},
            ],
        ),
        (
            "By Clara Weiss, Senior Correspondent, and Tomasz Nowak in Berlin",
            [
                {"name": "Clara Weiss", "role": "Senior Correspondent"},
                {"name": "Tomasz Nowak", "location": "Berlin"},
            ],
        ),
        (
            "By Jane Doe, Senior Correspondent",
            [{"name": "Jane Doe", "role": "Senior Correspondent"}],
        ),
        ("By JANE DOE", [{"name": "Jane Doe"}]),
        ("By Jane Doe Staff Writer", [{"name": "Jane Doe", "role": "Staff Writer"}]),
        ("By Haruka Ishii/ Staff Writer", [{"name": "Haruka Ishii", "role": "Staff Writer"}]),
        (
            "Jane Doe and John Smith, Staff Writers",
            [
                {"name": "Jane Doe", "role": "Staff Writers"},
                {"name": "John Smith", "role": "Staff Writers"},
            ],
        ),
        (
            "By Maria Delgado, Associated Press",
            [{"name": "Maria Delgado", "agency": "Associated Press"}],
        ),
        ("By JANE DOE REUTERS", [{"name": "Jane Doe", "agency": "Reuters"}]),
        (
            "By Jane Doe & John Roe (AFP)",
            [{"name": "Jane Doe", "agency": "AFP"}, {"name": "John Roe", "agency": "AFP"}],
        ),
        ("By AP", [{"name": "AP", "agency": "AP"}]),
        ("Kyodo", [{"name": "Kyodo", "agency": "Kyodo"}]),
        (
            "Von Lars Fischer und Alina Schadwinkel",
            [{"name": "Lars Fischer"}, {"name": "Alina Schadwinkel"}],
        ),
        ("By Jane Doe | Updated Oct 30, 2017 5:20 PM", [{"name": "Jane Doe"}]),
        (
            "By Andre Mitchell and Sofia Grant June 20, 2024",
            [{"name": "Andre Mitchell"}, {"name": "Sofia Grant"}],
        ),
        ("By Jane Doe jane.doe@example.test @janedoe", [{"name": "Jane Doe"}]),
        ("By Jane Doe, The New York Times", [{"name": "Jane Doe"}]),
        ("Markus M. Haefliger, London", [{"name": "Markus M. Haefliger", "location": "London"}]),
        ("By Jean DUPONT", [{"name": "Jean Dupont"}]),
    ],
)
def test_parse_byline(byline: str, expected: list[dict[str, str]]) -> None:
    assert _authors(byline) == expected


@pytest.mark.parametrize(
    "text",
    [
        "By Aaron Humes: The Americas cannot ignore the risk of further surges, warns the director",
        "Posted on June 3 by admin",
        "Share this article",
        "",
        "By " + "very long words " * 40,
    ],
)
def test_prose_and_chrome_are_not_bylines(text: str) -> None:
    assert parse_byline(text) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("JANE DOE", "Jane Doe"),
        ("jane doe", "Jane Doe"),
        ("SEÁN O'BRIEN", "Seán O'Brien"),
        ("LUDWIG VAN BEETHOVEN", "Ludwig van Beethoven"),
        ("JOHN MCDONALD", "John McDonald"),
        ("J.R. Smith", "J.R. Smith"),
        ("Jean-Pierre DUPONT", "Jean-Pierre Dupont"),
    ],
)
def test_normalize_case(name: str, expected: str) -> None:
    assert normalize_case(name) == expected


@pytest.mark.parametrize(
    ("paragraph", "place", "agency", "raw"),
    [
        ("TOKYO (Kyodo) -- Japan said on Monday", "Tokyo", "Kyodo", "TOKYO (Kyodo) --"),
        ("WASHINGTON (AP) — The Senate voted", "Washington", "AP", "WASHINGTON (AP) —"),
        (
            "LONDON, Oct 30 (Reuters) - Britain said",
            "London",
            "Reuters",
            "LONDON, Oct 30 (Reuters) -",
        ),
        ("Hamburg (dpa) – Die Fähren", "Hamburg", "dpa", "Hamburg (dpa) –"),
        ("NEW YORK — Stocks fell", "New York", None, "NEW YORK —"),
        ("SENDAI--More than 14,000 runners", "Sendai", None, "SENDAI--"),
        ("WASHINGTON, D.C. (AP) — x", "Washington, D.C.", "AP", "WASHINGTON, D.C. (AP) —"),
        ("BERLIN/PARIS (Reuters) - x", "Berlin/Paris", "Reuters", "BERLIN/PARIS (Reuters) -"),
        ("TOKYO (Kyodo) --", "Tokyo", "Kyodo", "TOKYO (Kyodo) --"),
    ],
)
def test_parse_dateline(paragraph: str, place: str, agency: str | None, raw: str) -> None:
    dateline = parse_dateline(paragraph)
    assert dateline is not None
    assert (dateline.place, dateline.agency, dateline.raw) == (place, agency, raw)


@pytest.mark.parametrize(
    "paragraph",
    [
        "During their teleconference on Oct. 4, President Donald Trump asked",
        "NASA said today that the launch was delayed.",
        "EDITORIAL: Rural bus routes need more than subsidies",
        "The UK, which has a special relationship, is astonished.",
        "U.S. — a short one",
    ],
)
def test_no_dateline(paragraph: str) -> None:
    assert parse_dateline(paragraph) is None
