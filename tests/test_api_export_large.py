"""Export of a large result set through the HTTP API: 20,000 matching articles among 21,000,
streamed as CSV and JSON Lines, must hold exactly the matching ids, each once."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterator
from itertools import chain
from pathlib import Path

import httpx
import pytest

from newsdesk.api import create_app, serving
from newsdesk.api_common import ApiSettings
from newsdesk.es_client import connect
from newsdesk.index import ensure_index
from tests.corpus import article_docs, bulk_load, drop_index, scratch_settings

pytestmark = pytest.mark.es

MATCHING = 20_000
OTHERS = 1_000


@pytest.fixture(scope="module")
def base_url(es_url: str) -> Iterator[str]:
    settings = scratch_settings(es_url, Path(tempfile.mkdtemp(prefix="newsdesk-export-")), "export")
    client = connect(settings)
    try:
        ensure_index(client, settings)
        others = (
            {**d, "body": "Unrelated filler text."}
            for d in article_docs(OTHERS, prefix="other", rich=False)
        )
        loaded = bulk_load(
            client,
            settings.index_name,
            chain(article_docs(MATCHING, prefix="exp", rich=False), others),
        )
        assert loaded == MATCHING + OTHERS
        app = create_app(settings, ApiSettings(api_max_export_rows=50_000))
        with serving(app) as url:
            yield url
    finally:
        drop_index(client, settings)
        client.close()


def _download(base_url: str, params: dict[str, str]) -> str:
    with (
        httpx.Client(base_url=base_url, timeout=300) as client,
        client.stream("GET", "/export", params=params) as resp,
    ):
        assert resp.status_code == 200
        assert resp.headers.get("transfer-encoding") == "chunked"
        return b"".join(resp.iter_bytes()).decode("utf-8")


EXPECTED = {f"exp-{i:08d}" for i in range(MATCHING)}


def test_csv_export_has_exactly_the_matching_ids(base_url: str) -> None:
    text = _download(base_url, {"q": "story", "format": "csv", "fields": "id,source,published_at"})
    rows = list(csv.DictReader(io.StringIO(text)))
    ids = [r["id"] for r in rows]
    assert len(ids) == MATCHING
    assert len(set(ids)) == MATCHING
    assert set(ids) == EXPECTED


def test_jsonl_export_in_date_order(base_url: str) -> None:
    text = _download(
        base_url, {"q": "story", "format": "jsonl", "fields": "id,published_at", "sort": "newest"}
    )
    records = [json.loads(line) for line in text.splitlines()]
    assert {r["id"] for r in records} == EXPECTED
    assert len(records) == MATCHING
    dates = [r["published_at"] for r in records]
    assert dates == sorted(dates, reverse=True)
