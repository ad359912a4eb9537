"""The articles index: a template, a versioned index (`articles-v1`) and an alias (`articles`).

English search: a full Elasticsearch has the `english` analyzer (stemming, possessives, stop
words); the integration-test distribution has only server-core analysis. At index creation we
probe the cluster with `_analyze` and define `newsdesk_text` as `english` when it exists, else
as a chain built only from core pieces (standard tokenizer, lowercase, English stop words). The
choice is recorded in the index `_meta` so it can be seen later (`newsdesk es status`).
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any, Literal

from elasticsearch import ApiError, BadRequestError, Elasticsearch

from newsdesk.settings import CONFIG_DIR, Settings

Analysis = Literal["english", "core"]

CORE_ANALYZER: dict[str, Any] = {
    "type": "custom",
    "tokenizer": "standard",
    "filter": ["lowercase", "newsdesk_english_stop"],
}
CORE_FILTERS: dict[str, Any] = {"newsdesk_english_stop": {"type": "stop", "stopwords": "_english_"}}


@cache
def _template_source() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CONFIG_DIR / "index-template.json").read_text("utf-8"))
    data.pop("_comment", None)
    return data


def detect_analysis(client: Elasticsearch) -> Analysis:
    """`english` when the cluster's analysis module provides it."""
    try:
        client.indices.analyze(analyzer="english", text="running")
    except BadRequestError:
        return "core"
    return "english"


def template_body(settings: Settings, analysis: Analysis) -> dict[str, Any]:
    """The index template for `<alias>-v*`, with `newsdesk_text` defined for `analysis`."""
    source = copy.deepcopy(_template_source())
    index_settings = source["settings"]
    if analysis == "english":
        index_settings["analysis"] = {"analyzer": {"newsdesk_text": {"type": "english"}}}
    else:
        index_settings["analysis"] = {
            "analyzer": {"newsdesk_text": CORE_ANALYZER},
            "filter": CORE_FILTERS,
        }
    mappings = source["mappings"]
    mappings["_meta"] = {"newsdesk_analysis": analysis, "schema_version": settings.index_version}
    return {
        "index_patterns": [f"{settings.index_alias}-v*"],
        "priority": 200,
        "template": {"settings": index_settings, "mappings": mappings},
    }


def ensure_index(client: Elasticsearch, settings: Settings) -> str:
    """Create template, index and alias if missing; return the concrete index name."""
    name = settings.index_name
    if client.indices.exists(index=name):
        add_new_fields(client, settings)
        return name
    analysis = detect_analysis(client)
    client.indices.put_index_template(
        name=f"{settings.index_alias}-template", **template_body(settings, analysis)
    )
    try:
        client.indices.create(index=name, aliases={settings.index_alias: {"is_write_index": True}})
    except ApiError as exc:
        if exc.error != "resource_already_exists_exception":
            raise
    client.cluster.health(index=name, wait_for_status="yellow", timeout="30s")
    return name


def add_new_fields(client: Elasticsearch, settings: Settings) -> None:
    """Give an index created by an older newsdesk the fields added since (its strict mapping
    would reject every article otherwise). Adding fields to a live index is allowed; changing
    an existing field is not, and needs a new index version."""
    properties = _template_source()["mappings"]["properties"]
    client.indices.put_mapping(index=settings.index_name, properties=properties)


def index_analysis(client: Elasticsearch, settings: Settings) -> str | None:
    mapping = client.indices.get_mapping(index=settings.index_alias)
    for body in mapping.body.values():
        meta = body.get("mappings", {}).get("_meta", {})
        return str(meta.get("newsdesk_analysis")) if meta else None
    return None


def refresh(client: Elasticsearch, settings: Settings) -> None:
    client.indices.refresh(index=settings.index_alias)


def existing_ids(client: Elasticsearch, settings: Settings, ids: list[str]) -> set[str]:
    """Which of `ids` are already indexed, asked in one request (no page is fetched for them)."""
    if not ids:
        return set()
    resp = client.mget(index=settings.index_alias, ids=ids, source=False)
    return {doc["_id"] for doc in resp["docs"] if doc.get("found")}
