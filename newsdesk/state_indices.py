"""The small indices beside the articles index (per-source state, dead letters): created on
first use with a strict mapping, and waited for, since a shard that is still recovering answers
reads and writes with 503 for a moment after creation."""

from __future__ import annotations

import threading
from typing import Any

from elasticsearch import ApiError, Elasticsearch

_ready: set[str] = set()
_lock = threading.Lock()


def ensure_index(client: Elasticsearch, name: str, mappings: dict[str, Any]) -> str:
    """Create index `name` (one shard) unless it exists, and wait until it can be used."""
    with _lock:
        if name in _ready:
            return name
    if not client.indices.exists(index=name):
        try:
            client.indices.create(
                index=name,
                settings={"number_of_shards": 1, "auto_expand_replicas": "0-1"},
                mappings=mappings,
            )
        except ApiError as exc:
            if exc.error != "resource_already_exists_exception":
                raise
    client.cluster.health(
        index=name, wait_for_status="yellow", wait_for_active_shards="1", timeout="30s"
    )
    with _lock:
        _ready.add(name)
    return name


def forget_index(name: str) -> None:
    """Drop `name` from the ready cache (after deleting the index)."""
    with _lock:
        _ready.discard(name)
