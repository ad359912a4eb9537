"""People, organisations and places mentioned in an article, without a downloaded model."""

from __future__ import annotations

from newsdesk.models import Entity


def extract_entities(paragraphs: list[str]) -> list[Entity]:
    return []
