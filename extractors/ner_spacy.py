"""Optional entity extractor backed by a spaCy pipeline the user installed themselves.

Selected with `get_extractor("spacy:en_core_web_sm")`. spaCy labels map onto our three kinds
(PERSON → person, ORG → organization, GPE/LOC/FAC → place); other labels
are ignored. Mentions are merged like the rule extractor does: a leading "the" is dropped, "U.S."
becomes "United States", and a surname counts toward the full name used elsewhere in the text.
"""

from __future__ import annotations

from typing import Any, Literal

from extractors import gazetteer
from extractors.names import PersonIndex, strip_title
from newsdesk.errors import ConfigError
from newsdesk.models import Entity

_LABELS: dict[str, Literal["person", "organization", "place"]] = {
    "PERSON": "person",
    "PER": "person",
    "ORG": "organization",
    "GPE": "place",
    "LOC": "place",
    "FAC": "place",
}


class SpacyEntityExtractor:
    """Runs a spaCy pipeline (a package name, or an already built `Language`) over paragraphs."""

    def __init__(self, model: str | Any) -> None:
        if isinstance(model, str):
            try:
                import spacy
            except ImportError as exc:
                raise ConfigError("spaCy is not installed; use the 'rules' extractor") from exc
            try:
                self.nlp = spacy.load(model)
            except OSError as exc:
                raise ConfigError(f"spaCy model {model!r} is not installed") from exc
        else:
            self.nlp = model

    def __call__(self, paragraphs: list[str]) -> list[Entity]:
        mentions: list[tuple[str, Literal["person", "organization", "place"]]] = []
        for doc in self.nlp.pipe(paragraphs):
            for ent in doc.ents:
                kind = _LABELS.get(ent.label_)
                if kind is None:
                    continue
                name = ent.text.strip()
                if name.lower().startswith("the "):
                    name = name[4:]
                name = name.removesuffix("’s").removesuffix("'s")
                if kind == "person":
                    name = strip_title(name)
                elif kind == "place":
                    place = gazetteer.lookup_place(name)
                    name = place.name if place else name
                if name:
                    mentions.append((name, kind))
        index = PersonIndex(name for name, kind in mentions if kind == "person")
        counts: dict[tuple[str, Literal["person", "organization", "place"]], int] = {}
        for name, kind in mentions:
            if kind == "person":
                name = index.resolve(name) or name
            counts[(name, kind)] = counts.get((name, kind), 0) + 1
        order = sorted(counts, key=lambda key: -counts[key])
        return [Entity(name=name, kind=kind, count=counts[(name, kind)]) for name, kind in order]
