"""Session-wide test setup: a real `prefect server` (tests.plugins.prefect_session) and a real
Elasticsearch node (tests.plugins.es_session), plus per-test index fixtures."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from newsdesk.es_client import connect
from newsdesk.settings import Settings
from tests.newswire import drop_ingest_indices

pytest_plugins = ["tests.plugins.prefect_session", "tests.plugins.es_session"]


@pytest.fixture
def es_settings(es_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings on the session's node with an index alias of this test's own."""
    data = tmp_path_factory.mktemp("data")
    return Settings(
        es_url=es_url,
        index_alias=f"t-{uuid.uuid4().hex[:12]}",
        data_dir=data,
        allow_hosts=["127.0.0.1"],
        request_deadline=5.0,
    )


@pytest.fixture
def es_client(es_settings: Settings) -> Iterator[Elasticsearch]:
    client = connect(es_settings)
    yield client
    client.indices.delete(index=es_settings.index_name, ignore_unavailable=True)
    drop_ingest_indices(client, es_settings)  # per-source state and dead letters beside it
    client.options(ignore_status=404).indices.delete_index_template(
        name=f"{es_settings.index_alias}-template"
    )
    client.close()
