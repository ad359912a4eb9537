"""Orchestration settings from the environment (prefix `NEWSDESK_`), beside `newsdesk.settings`.

They tune how flows talk to Prefect (locks, events, alerts), not what is fetched or indexed, so
they live with the flows.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OpsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSDESK_", extra="ignore")

    alert_after_failures: int = Field(
        default=3, ge=1, description="Consecutive failed polls that flag a source as failing."
    )
    source_lease_seconds: float = Field(
        default=60,
        ge=60,
        description="Lease on a source's lock; a killed run frees it after at most this long "
        "(plus the server's 15 s sweep). Prefect's minimum is 60 s.",
    )
    source_wait_seconds: float = Field(
        default=900, gt=0, description="How long a run waits for a source another run holds."
    )
    max_batches: int = Field(
        default=20,
        ge=1,
        description="Batches per run before batches grow past `batch_size`, so task runs stay "
        "in the tens however many articles a run brings.",
    )
    max_batch_size: int = Field(
        default=500,
        ge=1,
        description="Pages per batch at most, however large the run: a batch's pages, "
        "archive copies and Articles are what a run holds at once (about 85 MB of pages at "
        "500 on the benchmark site), so its memory does not grow with the run.",
    )
    poll_chunk: int = Field(
        default=10, ge=1, description="Feeds polled per task run by the `ingest` flow."
    )
    round_entries: int = Field(
        default=10_000,
        ge=1,
        description="The `ingest` flow ingests what it polled once its feeds brought this many "
        "entries, then polls the next feeds: a run holds one round's entries at a time, so "
        "its memory does not grow with the sources' total.",
    )
    pool_min_pages: int = Field(
        default=16,
        ge=0,
        description="Batches smaller than this are extracted in the flow's own process rather "
        "than in the extraction worker pool (whose processes take seconds to start).",
    )
    event_entries: int = Field(
        default=50, ge=1, le=500, description="Entries per `newsdesk.feed.polled` event."
    )
    article_events: bool = Field(
        default=True, description="Emit one newsdesk.article.indexed/failed event per article."
    )
    search_url: str | None = Field(
        default=None, description="Base URL of the search page, for links in run artifacts."
    )
