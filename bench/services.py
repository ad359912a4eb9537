"""The real services a benchmark runs against: Elasticsearch and a Prefect server.

`NEWSDESK_ES_URL` / `PREFECT_API_URL`, when set, name running ones; otherwise a throw-away
node and server are started for the benchmark and stopped after it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from elasticsearch import Elasticsearch

from newsdesk import es_node, prefect_server
from newsdesk.es_client import connect
from newsdesk.settings import Settings


@contextmanager
def elasticsearch(heap: str = "1g") -> Iterator[str]:
    existing = os.environ.get("NEWSDESK_ES_URL")
    if existing:
        yield existing
        return
    # The unprivileged user that runs Elasticsearch under root must traverse the base dir.
    base = Path(tempfile.mkdtemp(prefix="newsdesk-bench-es-"))
    base.chmod(0o755)
    try:
        with es_node.ephemeral_node(base, settings=Settings(), heap=heap) as info:
            yield info.url
    finally:
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def prefect_api() -> Iterator[str]:
    """A real Prefect server (not the ephemeral one) for the duration of the block."""
    existing = os.environ.get("PREFECT_API_URL")
    if existing:
        yield existing
        return
    home = Path(tempfile.mkdtemp(prefix="newsdesk-bench-prefect-"))
    try:
        with prefect_server.running(home) as url:
            yield url
    finally:
        shutil.rmtree(home, ignore_errors=True)


def bench_settings(es_url: str, **overrides: object) -> Settings:
    """Settings with an index alias of this run's own, on `es_url`, allowed to fetch from
    the loopback site."""
    values: dict[str, object] = {
        "es_url": es_url,
        "index_alias": f"bench-{uuid.uuid4().hex[:10]}",
        "allow_hosts": ["127.0.0.1"],
    }
    values.update(overrides)
    return Settings.model_validate(values)


def drop_index(settings: Settings) -> None:
    client: Elasticsearch = connect(settings)
    try:
        client.indices.delete(index=settings.index_name, ignore_unavailable=True)
        client.options(ignore_status=404).indices.delete_index_template(
            name=f"{settings.index_alias}-template"
        )
    finally:
        client.close()
