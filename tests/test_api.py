"""The HTTP API on a real Elasticsearch with the synthetic corpus: search, filters, paging,
articles, quotes, export, ingest, health, keys and limits."""

from __future__ import annotations

import csv
import http.server
import io
import json
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from newsdesk.api import create_app, serving
from newsdesk.api_common import ApiSettings
from newsdesk.models import Article
from newsdesk.search import SearchRequest, decode_cursor
from newsdesk.settings import Settings
from tests.corpus import HOSTILE_TITLE, CorpusIndex, indexed_corpus, story_count

pytestmark = pytest.mark.es

WRITE_KEY = "w-3f9c2a7e5b1d4c8a"
READ_KEY = "r-8b7a6c5d4e3f2a1b"


@pytest.fixture(scope="module")
def ci(es_url: str) -> Iterator[CorpusIndex]:
    with indexed_corpus(es_url) as index:
        yield index


@contextmanager
def TestClient(app: FastAPI) -> Iterator[httpx.Client]:
    """A client of `app` served by uvicorn on 127.0.0.1 (real HTTP, no test transport)."""
    with serving(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def api(ci: CorpusIndex) -> Iterator[httpx.Client]:
    with TestClient(create_app(ci.settings, ApiSettings(api_keys=[WRITE_KEY]))) as client:
        yield client


def words(a: Article) -> set[str]:
    text = " ".join([a.title, a.description or "", a.lede or "", a.body])
    return set(re.findall(r"\w+", text.lower()))


def all_ids(api: httpx.Client, path: str = "/search", **params: object) -> list[str]:
    params = {"limit": 100, "collapse": "false", **params}
    resp = api.get(path, params=params)  # type: ignore[arg-type]
    assert resp.status_code == 200, resp.text
    body = resp.json()
    found = [h["article"]["id"] for h in body["hits"]]
    while body["next_cursor"]:
        resp = api.get(path, params={**params, "cursor": body["next_cursor"]})  # type: ignore[arg-type]
        assert resp.status_code == 200, resp.text
        body = resp.json()
        found += [h["article"]["id"] for h in body["hits"]]
    return found


def test_search_returns_hits_facets_timeline_and_a_cursor(
    api: httpx.Client, ci: CorpusIndex
) -> None:
    resp = api.get("/search", params={"q": "harbour", "limit": 5})
    assert resp.status_code == 200
    body = resp.json()
    matching = [a for a in ci.articles if "harbour" in words(a)]
    assert body["total"] == len(matching)
    assert body["stories"] == story_count(matching, lambda a: True)
    assert len(body["hits"]) == 5
    assert {"source", "author", "person", "org", "place", "language"} <= set(body["facets"])
    assert body["timeline"]["interval"] in ("week", "month")
    assert body["next_cursor"]
    hit = body["hits"][0]
    assert {"article", "highlights", "title_html", "copies", "score"} <= set(hit)
    shown = [h["article"]["id"] for h in body["hits"]]
    cursor = body["next_cursor"]
    while cursor:
        page = api.get("/search", params={"q": "harbour", "limit": 5, "cursor": cursor}).json()
        shown += [h["article"]["id"] for h in page["hits"]]
        cursor = page["next_cursor"]
    assert len(shown) == len(set(shown)) == body["stories"]


def test_filters_as_query_parameters(api: httpx.Client, ci: CorpusIndex) -> None:
    got = all_ids(
        api,
        source=["metro-daily", "diario-sur"],
        person="Ingrid Vos",
        has_quotes="true",
        since="2023-06-01",
        until="2024-06-30",
    )
    expected = {
        a.id
        for a in ci.articles
        if a.source in ("metro-daily", "diario-sur")
        and any(e.name == "Ingrid Vos" and e.kind == "person" for e in a.entities)
        and a.quotes
        and a.published_at
        and "2023-06-01" <= a.published_at.date().isoformat() <= "2024-06-30"
    }
    assert expected
    assert set(got) == expected


@pytest.mark.parametrize(
    ("params", "status", "needle"),
    [
        ({"limit": 101}, 400, "page size"),
        ({"limit": 0}, 400, "page size"),
        ({"q": "x" * 501}, 400, "query length"),
        ({"facet_size": 51}, 400, "facet_size"),
        ({"q": " ".join(f"w{i}" for i in range(70))}, 400, "terms"),
        ({"since": "yesterday"}, 422, "since"),
        ({"sort": "random"}, 422, "sort"),
        ({"cursor": "not-a-cursor"}, 400, "cursor"),
        ({"source": [f"s{i}" for i in range(25)]}, 422, "source"),
    ],
)
def test_limits_and_bad_parameters_are_clear_4xx(
    api: httpx.Client, params: dict[str, object], status: int, needle: str
) -> None:
    resp = api.get("/search", params=params)  # type: ignore[arg-type]
    assert resp.status_code == status, resp.text
    assert needle in resp.json()["detail"]


@pytest.mark.parametrize("q", ['"((', "title:", "- OR -", "a:b:c", "\\", "%00", "*:*"])
def test_odd_syntax_is_never_a_server_error(api: httpx.Client, q: str) -> None:
    assert api.get("/search", params={"q": q}).status_code == 200


def test_expired_cursor_is_gone(api: httpx.Client, ci: CorpusIndex) -> None:
    body = api.get("/search", params={"q": "harbour", "limit": 3}).json()
    state = decode_cursor(body["next_cursor"], SearchRequest(query="harbour"))
    ci.client.close_point_in_time(id=state.pit)
    resp = api.get("/search", params={"q": "harbour", "limit": 3, "cursor": body["next_cursor"]})
    assert resp.status_code == 410
    assert "expired" in resp.json()["detail"]


def test_json_is_data_and_highlights_are_escaped(api: httpx.Client) -> None:
    body = api.get("/search", params={"q": "onerror crane", "collapse": "false"}).json()
    hostile = [h for h in body["hits"] if h["article"]["title"] == HOSTILE_TITLE]
    assert hostile
    for hit in hostile:
        assert "&lt;script&gt;" in hit["title_html"]
        for fragment in [hit["title_html"], *hit["highlights"]]:
            assert set(re.findall(r"<[^>]*>", fragment)) <= {"<mark>", "</mark>"}


def test_article_endpoint(api: httpx.Client, ci: CorpusIndex) -> None:
    wire = next(a for a in ci.articles if a.cluster_id == "wire-3" and a.source == "global-wire")
    resp = api.get(f"/articles/{wire.id}")
    assert resp.status_code == 200
    body = resp.json()
    assert Article.model_validate(body["article"]) == wire
    assert {c["id"] for c in body["copies"]} == {
        a.id for a in ci.articles if a.cluster_id == "wire-3" and a.id != wire.id
    }
    assert all(s["cluster_id"] != "wire-3" for s in body["similar"])
    assert api.get("/articles/nope").status_code == 404


def test_quote_endpoint(api: httpx.Client, ci: CorpusIndex) -> None:
    resp = api.get("/quotes", params={"speaker": "Kenji Sato", "limit": 100, "collapse": "false"})
    assert resp.status_code == 200
    body = resp.json()
    expected = sum(1 for a in ci.articles for q in a.quotes if q.speaker == "Kenji Sato")
    assert body["quotes"] == expected == len(body["hits"])
    first = body["hits"][0]
    assert {"text", "html", "speaker", "article_id", "title", "source", "published_at"} <= set(
        first
    )
    assert api.get("/quotes").status_code == 400


def test_export_streams_every_result(api: httpx.Client, ci: CorpusIndex) -> None:
    resp = api.get("/export", params={"q": "harbour", "fields": "id,title,persons,quote_count"})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/csv")
    assert "attachment" in resp.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert [*rows[0]] == ["id", "title", "persons", "quote_count"]
    assert {r["id"] for r in rows} == {a.id for a in ci.articles if "harbour" in words(a)}
    assert len(rows) == len({r["id"] for r in rows})

    lines = api.get("/export", params={"q": "harbour", "format": "jsonl", "fields": "id,authors"})
    records = [json.loads(line) for line in lines.text.splitlines()]
    assert len(records) == len(rows)
    assert all(isinstance(r["authors"], list) for r in records)

    collapsed = api.get("/export", params={"q": "harbour", "collapse": "true"}).text
    matching = [a for a in ci.articles if "harbour" in words(a)]
    assert len(collapsed.strip().splitlines()) - 1 == story_count(matching, lambda a: True)

    five = api.get("/export", params={"q": "harbour", "max_rows": 5}).text
    assert len(five.strip().splitlines()) == 6


def test_export_neutralises_spreadsheet_formulas(es_url: str) -> None:
    base = Article(
        id="formula-1",
        url="https://x.example/f",
        source_url="https://x.example/",
        source="=cmd|' /C calc'!A0",
        title='=HYPERLINK("http://evil")',
        body="plain",
    )
    with indexed_corpus(es_url, [base]) as small:
        app = create_app(small.settings, ApiSettings())
        with TestClient(app) as api:
            text = api.get("/export", params={"fields": "title,source"}).text
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["title"].startswith("'=")
    assert row["source"].startswith("'=")


def test_export_limits(api: httpx.Client, ci: CorpusIndex) -> None:
    assert api.get("/export", params={"fields": "id,nope"}).status_code == 400
    app = create_app(ci.settings, ApiSettings(api_max_export_rows=10))
    with TestClient(app) as small:
        resp = small.get("/export", params={"q": "harbour"})
        assert resp.status_code == 400
        assert "at most 10" in resp.json()["detail"]
        assert small.get("/export", params={"q": "harbour", "max_rows": 10}).status_code == 200
        assert small.get("/export", params={"q": "harbour", "max_rows": 11}).status_code == 400


def test_ingest_accepts_and_refuses_with_reasons(api: httpx.Client, ci: CorpusIndex) -> None:
    indexed = ci.articles[0].url
    urls = [
        "https://news.example/fresh-story",
        indexed + "?utm_source=feed",
        "not a url",
        "ftp://files.example/a",
        "http://10.0.0.7/admin",
        "http://[::ffff:169.254.169.254]/latest",
        "http://localhost:9200/_cat",
        "https://news.example/fresh-story#again",
    ]
    resp = api.post("/ingest", json={"urls": urls}, headers={"X-API-Key": WRITE_KEY})
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert [a["url"] for a in body["accepted"]] == ["https://news.example/fresh-story"]
    reasons = {r["url"]: r["reason"] for r in body["refused"]}
    assert reasons[indexed + "?utm_source=feed"].startswith("already indexed")
    assert reasons["not a url"].startswith("invalid URL")
    assert reasons["ftp://files.example/a"].startswith("invalid URL")
    assert reasons["http://10.0.0.7/admin"].startswith("blocked address")
    assert reasons["http://[::ffff:169.254.169.254]/latest"].startswith("blocked address")
    assert reasons["http://localhost:9200/_cat"].startswith("blocked address")
    assert reasons["https://news.example/fresh-story#again"].startswith("repeats URL number 1")
    queue = Path(ci.settings.data_dir) / "submitted.jsonl"
    queued = [json.loads(line) for line in queue.read_text().splitlines()]
    assert [q["url"] for q in queued][-1] == "https://news.example/fresh-story"

    too_many = {"urls": [f"https://news.example/{i}" for i in range(101)]}
    resp = api.post("/ingest", json=too_many, headers={"X-API-Key": WRITE_KEY})
    assert resp.status_code == 400
    assert "number of URLs" in resp.json()["detail"]
    assert (
        api.post("/ingest", json={"urls": []}, headers={"X-API-Key": WRITE_KEY}).status_code == 422
    )


def test_keys_guard_writes_and_optionally_reads(
    ci: CorpusIndex, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    open_app = create_app(ci.settings, ApiSettings())
    with TestClient(open_app) as api:
        resp = api.post("/ingest", json={"urls": ["https://a.example/x"]})
        assert resp.status_code == 403
        assert "NEWSDESK_API_KEYS" in resp.json()["detail"]
        assert api.get("/search").status_code == 200

    guarded = create_app(
        ci.settings, ApiSettings(api_keys=[WRITE_KEY], read_api_keys=[READ_KEY, "other-read"])
    )
    with TestClient(guarded) as api:
        denied = api.get("/search")
        assert denied.status_code == 401
        assert denied.headers["www-authenticate"].startswith("Basic")
        assert api.get("/search", headers={"X-API-Key": "wrong"}).status_code == 401
        assert api.get("/search", headers={"X-API-Key": READ_KEY}).status_code == 200
        assert api.get("/", headers={"Authorization": f"Bearer {WRITE_KEY}"}).status_code == 200
        assert api.get("/", auth=("anyone", READ_KEY)).status_code == 200
        assert api.get("/").status_code == 401
        assert api.get("/health").status_code == 200  # health stays open for monitors
        post = {"urls": ["https://a.example/y"]}
        assert api.post("/ingest", json=post, headers={"X-API-Key": READ_KEY}).status_code == 401
        assert api.post("/ingest", json=post, headers={"X-API-Key": WRITE_KEY}).status_code == 202
    assert WRITE_KEY not in caplog.text
    assert READ_KEY not in caplog.text


def test_api_keys_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSDESK_API_KEYS", " a1 , b2,")
    monkeypatch.setenv("NEWSDESK_READ_API_KEYS", "r1")
    monkeypatch.setenv("NEWSDESK_API_MAX_PAGE_SIZE", "20")
    settings = ApiSettings()
    assert [k.get_secret_value() for k in settings.api_keys] == ["a1", "b2"]
    assert settings.read_protected
    assert settings.api_max_page_size == 20
    assert "a1" not in repr(settings)


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        ok = self.path == "/api/health"
        self.send_response(200 if ok else 404)
        self.end_headers()
        self.wfile.write(b"true")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def fake_prefect() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()
    server.server_close()
    thread.join()


def test_health(
    api: httpx.Client, ci: CorpusIndex, fake_prefect: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", fake_prefect)
    body = api.get("/health").json()
    assert body["status"] == "ok"
    assert body["elasticsearch"]["reachable"] is True
    assert body["elasticsearch"]["documents"] == len(ci.articles)
    assert body["prefect"]["reachable"] is True

    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    body = api.get("/health").json()
    assert body["status"] == "degraded"
    assert body["prefect"]["reachable"] is False

    monkeypatch.delenv("PREFECT_API_URL")
    assert api.get("/health").json()["prefect"]["reachable"] is None

    down = Settings(es_url="http://127.0.0.1:9", index_alias="x", es_request_timeout=2)
    with TestClient(create_app(down, ApiSettings())) as dead:
        resp = dead.get("/health")
        assert resp.status_code == 503
        assert resp.json()["elasticsearch"]["reachable"] is False
        assert dead.get("/search").status_code == 503


def test_openapi_documents_the_endpoints(api: httpx.Client) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/search", "/articles/{article_id}", "/quotes", "/export", "/ingest", "/health"} <= set(
        paths
    )
    assert api.get("/docs").status_code == 200
