"""The foundation end to end: feeds on a local site → Prefect `ingest` flow → real
Elasticsearch → search. Covers the acceptance items of the foundation issue."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from flows.ingest import ingest
from newsdesk.demo_site import REFERENCE_PATH, find_seed_article
from newsdesk.demo_site.server import serve_site
from newsdesk.models import Status
from newsdesk.search import SearchRequest, run_search
from newsdesk.settings import Settings
from newsdesk.sources import SourceConfig

pytestmark = [pytest.mark.es, pytest.mark.usefixtures("prefect_api_url")]

TITLE = "Honeymoon between Japan, U.S. leaders stands out"


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    if find_seed_article() is None:
        pytest.skip("reference article ../shared/seed/article.txt is not available")
    with serve_site() as base_url:
        yield base_url


def demo_sources(base_url: str) -> list[SourceConfig]:
    return [
        SourceConfig.model_validate({"name": "demo-news", "url": f"{base_url}/feed.xml"}),
        SourceConfig.model_validate(
            {"name": "demo-partner", "url": f"{base_url}/partner/feed.xml"}
        ),
    ]


def test_reference_article_is_searchable_clean_and_unique(
    site: str, es_settings: Settings, es_client: Elasticsearch
) -> None:
    summary = ingest(sources=demo_sources(site), settings=es_settings)
    assert summary.failed == 0, summary.failures
    assert summary.feeds_failed == 0
    assert summary.indexed >= 5
    # Every discovered link ends in exactly one outcome.
    assert summary.indexed + summary.skipped + summary.failed == summary.entries_found
    assert any((o.reason or "").startswith("same article as") for o in summary.outcomes)

    result = run_search(es_client, es_settings, SearchRequest(query='"Little Rocket Man"'))
    assert result.total == 1
    hit = result.hits[0]
    assert hit.article.title == TITLE
    assert hit.article.url.endswith(REFERENCE_PATH)
    assert any(
        "<mark>Little</mark>" in h or "<mark>Little Rocket Man</mark>" in h for h in hit.highlights
    )
    assert "print PRINT" not in hit.article.body
    assert "Trending Japan" not in hit.article.body

    by_author = run_search(
        es_client, es_settings, SearchRequest(query="Tillerson", author="Kotaro Ono")
    )
    assert [h.article.id for h in by_author.hits] == [hit.article.id]

    count = es_client.count(index=es_settings.index_alias)["count"]
    # The partner feed links the reference article with ?utm_source=x#top: still one document.
    assert count == summary.indexed
    urls = [
        h.article.url for h in run_search(es_client, es_settings, SearchRequest(limit=100)).hits
    ]
    assert len(urls) == len(set(urls)) == count

    again = ingest(sources=demo_sources(site), settings=es_settings)
    assert again.indexed == 0
    assert again.fetched == 0
    assert again.skipped == again.entries_found
    # The unchanged feeds answer 304 to the stored validators, so nothing is even re-read;
    # whatever is re-read is known already.
    assert {o.reason for o in again.outcomes if not (o.reason or "").startswith("same")} <= {
        "already indexed"
    }
    es_client.indices.refresh(index=es_settings.index_alias)
    assert es_client.count(index=es_settings.index_alias)["count"] == count


class _TroubleHandler(http.server.BaseHTTPRequestHandler):
    """A feed whose links fail in different ways, plus a broken feed."""

    base = ""

    def do_GET(self) -> None:
        if self.path == "/broken-feed.xml":
            self.send_response(500)
            self.end_headers()
            return
        if self.path == "/feed.xml":
            items = "".join(
                f"<item><title>{p}</title><link>{self.base}{p}</link></item>"
                for p in ("/slow.html", "/report.pdf", "/gone.html")
            )
            body = (
                '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
                f"{items}</channel></rss>"
            )
            self._send(200, "application/rss+xml", body.encode())
        elif self.path == "/slow.html":
            time.sleep(8)
            self._send(200, "text/html", b"<html><body>late</body></html>")
        elif self.path == "/report.pdf":
            self._send(200, "application/pdf", b"%PDF-1.4 not a web page")
        else:
            self._send(404, "text/html", b"<html><body>Not found</body></html>")

    def _send(self, status: int, ctype: str, body: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def trouble_site() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TroubleHandler)
    server.daemon_threads = True
    _TroubleHandler.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield _TroubleHandler.base
    server.shutdown()
    server.server_close()


def test_failures_are_reported_and_the_rest_completes(
    site: str, trouble_site: str, es_settings: Settings, es_client: Elasticsearch
) -> None:
    settings = es_settings.model_copy(update={"request_deadline": 2.0})
    sources = [
        SourceConfig.model_validate({"name": "broken", "url": f"{trouble_site}/broken-feed.xml"}),
        SourceConfig.model_validate({"name": "trouble", "url": f"{trouble_site}/feed.xml"}),
        *demo_sources(site),
    ]
    summary = ingest(sources=sources, settings=settings)
    reasons = {
        o.url.rsplit("/", 1)[-1]: (o.stage, o.reason or "")
        for o in summary.outcomes
        if o.status is Status.FAILED
    }
    assert summary.feeds_failed == 1
    stages = {name: stage for name, (stage, _) in reasons.items()}
    assert stages == {
        "broken-feed.xml": "poll",
        "slow.html": "fetch",
        "report.pdf": "fetch",
        "gone.html": "fetch",
    }
    assert "500" in reasons["broken-feed.xml"][1]
    assert "deadline" in reasons["slow.html"][1].lower()
    assert "pdf" in reasons["report.pdf"][1].lower()
    assert "404" in reasons["gone.html"][1]
    assert summary.failed == 3
    assert summary.indexed >= 5
    result = run_search(es_client, es_settings, SearchRequest(query='"Little Rocket Man"'))
    assert result.total == 1
