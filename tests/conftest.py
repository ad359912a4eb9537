"""Session-wide test setup: an isolated Prefect home, a quiet Prefect, and the real
Elasticsearch node (tests.plugins.es_session)."""

from __future__ import annotations

import os
import tempfile

_prefect_home = tempfile.mkdtemp(prefix="newsdesk-prefect-")
os.environ.setdefault("PREFECT_HOME", _prefect_home)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("DO_NOT_TRACK", "1")

pytest_plugins = ["tests.plugins.es_session"]

import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402
from elasticsearch import Elasticsearch  # noqa: E402

from newsdesk.es_client import connect  # noqa: E402
from newsdesk.settings import Settings  # noqa: E402


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
    client.options(ignore_status=404).indices.delete_index_template(
        name=f"{es_settings.index_alias}-template"
    )
    client.close()
