"""The Prefect dashboard served by `newsdesk up`, opened in headless Chromium (the machine's own
package): the ingest runs are listed and their artifacts and events are there. Screenshots go
to test-output/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from newsdesk.demo_site.server import serve_site
from tests.test_up import (
    UpProcess,
    feed_items,
    run_poll,
    running_up,
    search_total,
    up_env,
    wait_until,
)

pytestmark = pytest.mark.es

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parent.parent / "test-output" / "screenshots"


@pytest.fixture(scope="module")
def system(es_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    tmp = tmp_path_factory.mktemp("dashboard")
    env = up_env(tmp / "data", es_url=es_url)
    with serve_site() as site:
        feeds = tmp / "feeds.yaml"
        feeds.write_text(
            "allow_hosts: ['127.0.0.1']\n"
            "groups:\n  demo: {interval_minutes: 1440}\n"
            f"sources:\n  - {{name: demo-news, url: '{site}/feed.xml', group: demo}}\n",
            "utf-8",
        )
        with running_up(env, feeds) as up:
            run_poll(up)
            expected = feed_items(site)
            wait_until(lambda: search_total(up) == expected, 300, "articles via the API")
            run = wait_until(lambda: completed_ingest_run(up), 120, "the ingest run's record")
            yield {"up": up, "run": run, "expected": expected}


def completed_ingest_run(up: UpProcess) -> dict[str, Any] | None:
    runs = httpx.post(
        f"{up.dashboard}/api/flow_runs/filter",
        json={"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}, "limit": 50},
        timeout=10,
    ).json()
    flows = {
        f["id"]: f["name"]
        for f in httpx.post(f"{up.dashboard}/api/flows/filter", json={}, timeout=10).json()
    }
    for run in runs:
        if flows.get(run["flow_id"]) == "ingest-entries":
            return dict(run)
    return None


def test_the_dashboard_shows_the_ingest_runs_and_their_artifacts(system: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    up: UpProcess = system["up"]
    run = system["run"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.set_default_timeout(90_000)

            page.goto(f"{up.dashboard}/runs")
            page.get_by_text(run["name"]).first.wait_for()
            page.get_by_text("poll-sources").first.wait_for()
            page.screenshot(path=str(SHOTS / "dashboard-runs.png"), full_page=True)

            page.goto(f"{up.dashboard}/runs/flow-run/{run['id']}")
            page.get_by_text(run["name"]).first.wait_for()
            page.get_by_text("Automation").first.wait_for()  # started by the event trigger
            page.get_by_text("newsdesk: ingest new feed entries").first.wait_for()
            page.get_by_text("Artifacts", exact=True).first.click()
            page.get_by_text("newsdesk-ingest-entries-demo-news-sources").first.wait_for()
            page.get_by_text("newsdesk-ingest-entries-demo-news-summary").first.wait_for()
            page.screenshot(path=str(SHOTS / "dashboard-run-artifacts.png"), full_page=True)

            run_page = page.url
            page.get_by_text("newsdesk-ingest-entries-demo-news-sources").first.click()
            page.get_by_text("duplicates").first.wait_for()
            page.get_by_text("demo-news", exact=True).first.wait_for()
            table = page.inner_text("body")
            page.screenshot(path=str(SHOTS / "dashboard-sources-table.png"), full_page=True)
            assert str(system["expected"]) in table

            page.goto(run_page)
            page.get_by_text("Artifacts", exact=True).first.click()
            page.get_by_text("newsdesk-ingest-entries-demo-news-summary").first.click()
            page.get_by_text("ingest-entries run (demo-news)").first.wait_for()
            page.get_by_text("Indexed", exact=True).first.wait_for()
            page.screenshot(path=str(SHOTS / "dashboard-summary.png"), full_page=True)

            page.goto(f"{up.dashboard}/events")
            indexed = page.get_by_text("newsdesk.article.indexed").first
            indexed.wait_for()
            indexed.scroll_into_view_if_needed()
            page.screenshot(path=str(SHOTS / "dashboard-events.png"))
        finally:
            browser.close()
    for name in ("runs", "run-artifacts", "sources-table", "summary", "events"):
        assert (SHOTS / f"dashboard-{name}.png").stat().st_size > 10_000
