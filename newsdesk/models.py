"""The records that cross stage boundaries: feed entries, articles, outcomes and run summaries.

One `Article` flows from extraction to the index and comes back out of search unchanged, so
every structured field lives here as a typed model rather than a dict.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Author(_Model):
    """A person (or desk) credited in the byline."""

    name: str
    role: str | None = None
    location: str | None = None
    agency: str | None = None


class Dateline(_Model):
    """`TOKYO (Kyodo) --` parsed into its parts."""

    place: str | None = None
    agency: str | None = None
    raw: str | None = None


class Section(_Model):
    """A run of body paragraphs under one subheading (`heading` is None for the opening run)."""

    heading: str | None = None
    paragraphs: list[str] = Field(default_factory=list)


class Quote(_Model):
    """A direct quotation of a full statement and who said it."""

    text: str
    speaker: str | None = None
    speaker_kind: Literal["person", "description", "unknown"] = "unknown"
    verb: str | None = None
    paragraph: int = 0


class Entity(_Model):
    """A person, organisation or place mentioned in the text, merged across its mentions."""

    name: str
    kind: Literal["person", "organization", "place"]
    count: int = 1


class Image(_Model):
    url: str
    caption: str | None = None


class ArticleFields(_Model):
    """Everything the extractors read off one page; `Article` adds where it came from."""

    title: str
    canonical_url: str | None = None
    site_name: str | None = None
    description: str | None = None
    lede: str | None = None
    body: str
    sections: list[Section] = Field(default_factory=list)
    word_count: int = 0
    reading_time_minutes: int = 0
    authors: list[Author] = Field(default_factory=list)
    dateline: Dateline | None = None
    published_at: datetime | None = None
    modified_at: datetime | None = None
    language: str | None = None
    keywords: list[str] = Field(default_factory=list)
    top_image: Image | None = None
    quotes: list[Quote] = Field(default_factory=list)
    entities: list[Entity] = Field(default_factory=list)
    content_hash: str | None = None
    simhash: str | None = None
    simhash_bands: list[str] = Field(
        default_factory=list,
        description="MinHash LSH band keys: near duplicates share bands (extractors.fingerprint).",
    )
    cluster_id: str | None = None
    provenance: dict[str, str] = Field(default_factory=dict)


class Article(ArticleFields):
    """A news article as indexed; `id` comes from the normalised URL (`urls.article_id`)."""

    id: str
    url: str
    source_url: str
    source: str = "unknown"
    feed_url: str | None = None
    fetched_at: datetime | None = None
    raw_location: str | None = None


class FeedEntry(_Model):
    """One item discovered in a feed, before its page is fetched."""

    link: str
    title: str | None = None
    published: datetime | None = None
    summary: str | None = None
    source: str = "unknown"
    feed_url: str | None = None


class Status(StrEnum):
    INDEXED = "indexed"
    SKIPPED = "skipped"
    FAILED = "failed"


class Outcome(_Model):
    """What happened to one discovered URL (or one feed): every URL ends in exactly one outcome."""

    url: str
    status: Status
    stage: Literal["poll", "fetch", "extract", "index"]
    reason: str | None = None
    article_id: str | None = None
    source: str | None = None
    transient: bool = Field(
        default=False, description="A later attempt may succeed: retried, then dead-lettered."
    )


# Outcomes a RunSummary keeps of each status; its counts cover all of them.
OUTCOME_EXAMPLES = 200


class RunSummary(_Model):
    """Counts of one ingest run and, of each status, its first `OUTCOME_EXAMPLES` outcomes,
    returned by the flow, shown by the CLI. Bounded so a run's memory does not grow with its
    links; every failure is also in the dead-letter index."""

    feeds_polled: int = 0
    feeds_failed: int = 0
    entries_found: int = 0
    fetched: int = 0
    indexed: int = 0
    skipped: int = 0
    failed: int = 0
    outcomes: list[Outcome] = Field(default_factory=list)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status is Status.FAILED]

    def add(self, outcome: Outcome) -> None:
        seen = {
            Status.INDEXED: self.indexed,
            Status.SKIPPED: self.skipped,
            Status.FAILED: self.failed + self.feeds_failed,
        }[outcome.status]
        if seen < OUTCOME_EXAMPLES:
            self.outcomes.append(outcome)
        if outcome.status is Status.INDEXED:
            self.indexed += 1
        elif outcome.status is Status.SKIPPED:
            self.skipped += 1
        elif outcome.stage == "poll":
            self.feeds_failed += 1
        else:
            self.failed += 1
