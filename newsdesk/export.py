"""Export every result of a search as CSV or JSON Lines, streamed in chunks.

All matches are read over one point in time with `search_after` (`search.iter_all`), so an
export is one consistent snapshot with no repeats, however large, while ingestion goes on.
JSON Lines keeps each field's structure; CSV flattens it (names joined with "; ", nested
records as JSON) and prefixes cells that a spreadsheet would run as a formula with `'`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any, Literal

from elasticsearch import Elasticsearch

from newsdesk.search import SearchRequest, count, iter_all
from newsdesk.search_syntax import InvalidSearch
from newsdesk.settings import Settings

Format = Literal["csv", "jsonl"]

FIELDS: dict[str, str] = {
    "id": "article id",
    "url": "article URL",
    "canonical_url": "canonical URL from the page",
    "source": "source name",
    "site_name": "site name",
    "title": "headline",
    "description": "description",
    "lede": "first paragraph",
    "body": "full text",
    "published_at": "publication time",
    "modified_at": "last modification time",
    "fetched_at": "fetch time",
    "language": "language code",
    "authors": "bylines (CSV: names)",
    "author_locations": "author locations",
    "dateline": "dateline place",
    "keywords": "keywords",
    "word_count": "words",
    "quote_count": "number of quotes",
    "quotes": "quotes with speakers (CSV: JSON)",
    "speakers": "quoted speakers",
    "persons": "people mentioned",
    "organizations": "organisations mentioned",
    "places": "places mentioned",
    "entities": "entities (CSV: JSON)",
    "cluster_id": "near-duplicate cluster",
    "content_hash": "content hash",
    "feed_url": "feed the article came from",
    "raw_location": "archived raw page",
}
DEFAULT_FIELDS = ["id", "url", "title", "source", "published_at", "authors", "language"]
_SOURCE_OF = {
    "author_locations": "authors",
    "dateline": "dateline",
    "quote_count": "quotes",
    "speakers": "quotes",
    "persons": "entities",
    "organizations": "entities",
    "places": "entities",
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK_BYTES = 64 * 1024
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


class ExportTooLarge(InvalidSearch):
    """More matches than one export may hold."""


def parse_fields(spec: str | Iterable[str] | None) -> list[str]:
    """Field names from `a,b,c` (or a list of such), checked against `FIELDS`, in order."""
    if spec is None:
        return list(DEFAULT_FIELDS)
    items = [spec] if isinstance(spec, str) else list(spec)
    names = [n.strip() for item in items for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in FIELDS]
    if unknown:
        raise InvalidSearch(
            f"unknown export field(s): {', '.join(unknown)}; choose from {', '.join(FIELDS)}"
        )
    return list(dict.fromkeys(names)) or list(DEFAULT_FIELDS)


def source_fields(fields: list[str], collapse: bool) -> list[str]:
    wanted = {_SOURCE_OF.get(f, f) for f in fields}
    if collapse:
        wanted.add("cluster_id")
    return sorted(wanted)


def _entity_names(src: dict[str, Any], kind: str) -> list[str]:
    return [e["name"] for e in src.get("entities", []) if e.get("kind") == kind]


def row_values(src: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """The exported value of each field for one `_source` (structured, for JSON Lines)."""
    row: dict[str, Any] = {}
    for f in fields:
        if f == "author_locations":
            row[f] = [a["location"] for a in src.get("authors", []) if a.get("location")]
        elif f == "dateline":
            row[f] = (src.get("dateline") or {}).get("place")
        elif f == "quote_count":
            row[f] = len(src.get("quotes", []))
        elif f == "speakers":
            row[f] = list(
                dict.fromkeys(q["speaker"] for q in src.get("quotes", []) if q.get("speaker"))
            )
        elif f in ("persons", "places"):
            row[f] = _entity_names(src, f[:-1])
        elif f == "organizations":
            row[f] = _entity_names(src, "organization")
        else:
            row[f] = src.get(f)
    return row


def csv_cell(field: str, value: Any) -> str:
    """One CSV cell: lists of names joined, records as JSON, formulas neutralised."""
    if value is None:
        text = ""
    elif field == "authors":
        text = "; ".join(a.get("name", "") for a in value)
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        text = "; ".join(value)
    elif isinstance(value, list | dict):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def check_size(
    client: Elasticsearch,
    settings: Settings,
    req: SearchRequest,
    max_rows: int | None,
    limit: int | None,
) -> int:
    """Rows the export will hold; ExportTooLarge when more match than allowed and no `limit`
    narrows it."""
    matches = count(client, settings, req)
    if limit is not None and max_rows is not None and limit > max_rows:
        raise ExportTooLarge(f"limit {limit} is above the export maximum of {max_rows} rows")
    if limit is None and max_rows is not None and matches > max_rows:
        raise ExportTooLarge(
            f"the search matches {matches} articles; one export holds at most {max_rows}. "
            "Narrow the search, or pass limit to export the first rows."
        )
    return matches if limit is None else min(matches, limit)


def stream_export(
    client: Elasticsearch,
    settings: Settings,
    req: SearchRequest,
    fields: list[str],
    fmt: Format = "csv",
    limit: int | None = None,
) -> Iterator[bytes]:
    """The export as byte chunks of about `CHUNK_BYTES`."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    if fmt == "csv":
        writer.writerow(fields)
    written = 0
    hits = iter_all(client, settings, req, source=source_fields(fields, req.collapse))
    try:
        for hit in hits:
            if limit is not None and written >= limit:
                break
            row = row_values(hit["_source"], fields)
            if fmt == "csv":
                writer.writerow([csv_cell(f, row[f]) for f in fields])
            else:
                buf.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
            written += 1
            if buf.tell() >= CHUNK_BYTES:
                yield buf.getvalue().encode("utf-8")
                buf.seek(0)
                buf.truncate()
    finally:
        hits.close()
    if buf.tell():
        yield buf.getvalue().encode("utf-8")
