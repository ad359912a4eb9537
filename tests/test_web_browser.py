"""The web page in a real browser (the system Chromium, driven by Playwright): search, facets,
paging, article with quotes, export, hostile text, keyboard and phone width, with no console
errors. Screenshots go to test-output/screenshots/ for a reviewer."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from newsdesk.api import create_app, serving
from newsdesk.api_common import ApiSettings
from tests.corpus import HOSTILE_TITLE, CorpusIndex, indexed_corpus

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "/usr/bin/chromium is not installed (apt-get install chromium; .ci/run does it)",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

pytestmark = pytest.mark.es

ARGS = [
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


@dataclass
class Tab:
    page: Page
    base: str
    errors: list[str] = field(default_factory=list)

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)

    def shot(self, name: str, full: bool = True) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full)

    def hit_ids(self) -> list[str]:
        hrefs = self.page.locator(".hit-link").evaluate_all("els => els.map(e => e.href)")
        return [h.rsplit("/", 1)[-1] for h in hrefs]


@pytest.fixture(scope="module")
def site(es_url: str) -> Iterator[tuple[str, CorpusIndex]]:
    with indexed_corpus(es_url) as ci, serving(create_app(ci.settings, ApiSettings())) as url:
        yield url, ci


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _tab(browser: Browser, base: str, width: int = 1280, height: int = 900) -> Tab:
    context = browser.new_context(
        viewport={"width": width, "height": height}, accept_downloads=True
    )
    tab = Tab(page=context.new_page(), base=base)
    tab.page.set_default_timeout(20_000)
    tab.page.on(
        "console", lambda m: tab.errors.append(f"{m.type}: {m.text}") if m.type == "error" else None
    )
    tab.page.on("pageerror", lambda e: tab.errors.append(f"pageerror: {e}"))

    def dialog(d: object) -> None:
        tab.errors.append(f"dialog opened: {d.message}")  # type: ignore[attr-defined]
        d.dismiss()  # type: ignore[attr-defined]

    tab.page.on("dialog", dialog)
    return tab


@pytest.fixture
def tab(browser: Browser, site: tuple[str, CorpusIndex]) -> Iterator[Tab]:
    t = _tab(browser, site[0])
    yield t
    t.page.context.close()


def _count(tab: Tab) -> int:
    text = tab.page.locator("#result-count strong").inner_text()
    return int(text.replace(",", ""))


def test_search_facet_paging_article_quotes_and_export(
    tab: Tab, site: tuple[str, CorpusIndex]
) -> None:
    _, ci = site
    page = tab.page
    tab.go("/")
    tab.shot("01-start")

    page.fill("#q", "harbour")
    page.press("#q", "Enter")
    page.wait_for_url(re.compile(r"q=harbour"))
    assert page.locator(".hit").count() == 20
    assert page.locator(".hit mark").count() > 20
    assert page.locator(".chart rect").count() > 20
    assert page.locator(".badge.dup").count() >= 1
    tab.shot("02-results")

    first_page = tab.hit_ids()
    page.click("#next-page")
    page.wait_for_url(re.compile(r"cursor="))
    second_page = tab.hit_ids()
    assert second_page
    assert not set(first_page) & set(second_page)
    assert "Page 2" in page.locator(".pager").inner_text()
    tab.shot("03-page-2")
    page.click("#prev-page")
    page.wait_for_load_state()
    assert tab.hit_ids() == first_page

    facet = page.locator('.facet-value[data-facet="source"]').first
    source = facet.locator(".v").inner_text()
    facet_count = int(facet.locator(".n").inner_text().replace(",", ""))
    facet.click()
    page.wait_for_url(re.compile(r"source="))
    assert page.locator(".chip").first.inner_text().startswith("Source")
    assert set(page.locator(".hit .meta .src").all_inner_texts()) == {source}
    assert _count(tab) == facet_count
    assert page.locator(".facet-value.selected").count() == 1
    tab.shot("04-facet")

    with page.expect_download() as download:
        page.click("#export-csv")
    path = download.value.path()
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    expected = {
        a.id
        for a in ci.articles
        if a.source == source and re.search(r"\bharbour\b", (a.title + " " + a.body).lower())
    }
    assert {r["id"] for r in rows} == expected
    assert len(rows) == facet_count

    tab.go('/?q=speaker:"Ingrid Vos"')
    page.locator(".hit-link").first.click()
    page.wait_for_url(re.compile(r"/view/"))
    quotes = page.locator("#quotes blockquote")
    assert quotes.count() >= 1
    assert "Ingrid Vos" in page.locator("#quotes").inner_text()
    assert page.locator(".entities a").count() >= 2
    tab.shot("05-article")
    page.locator("#quotes .speaker a").first.click()
    page.wait_for_url(re.compile(r"/quote-search"))
    assert page.locator(".quote-hits blockquote").count() >= 1
    tab.shot("06-quotes")
    assert tab.errors == []


def test_hostile_text_is_shown_as_text(tab: Tab, site: tuple[str, CorpusIndex]) -> None:
    _, ci = site
    page = tab.page
    tab.go("/?q=onerror&collapse=false")
    titles = page.locator(".hit h2").all_inner_texts()
    assert HOSTILE_TITLE in titles
    assert page.locator("script").count() == 1  # only /static/app.js
    assert page.locator("img").count() == 0
    assert page.locator("[onerror], [onmouseover], [onload]").count() == 0
    tab.shot("07-hostile-results")
    hostile = next(a for a in ci.articles if a.url.startswith("javascript:"))
    tab.go(f"/view/{hostile.id}")
    assert page.locator("h1").inner_text() == HOSTILE_TITLE
    hrefs = page.locator("a").evaluate_all("els => els.map(e => e.getAttribute('href') || '')")
    assert not [h for h in hrefs if h.strip().lower().startswith("javascript:")]
    assert page.locator("script").count() == 1
    assert "javascript:alert(6)" in page.locator(".links").inner_text()
    tab.shot("08-hostile-article")
    assert tab.errors == []


def test_keyboard(tab: Tab) -> None:
    page = tab.page
    tab.go("/?q=harbour")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    page.keyboard.press("j")
    focused = page.evaluate("document.activeElement.className")
    assert "hit-link" in focused
    assert page.evaluate("document.activeElement.href").endswith(tab.hit_ids()[1])
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/view/"))
    page.go_back()
    page.keyboard.press("n")
    page.wait_for_url(re.compile(r"cursor="))
    page.keyboard.press("p")
    page.wait_for_load_state()
    assert "Page 2" not in page.locator("body").inner_text()
    assert tab.errors == []


def test_phone_width(browser: Browser, site: tuple[str, CorpusIndex]) -> None:
    tab = _tab(browser, site[0], width=390, height=844)
    try:
        for path, name in (("/?q=harbour", "09-phone-results"), (None, "10-phone-article")):
            if path:
                tab.go(path)
            else:
                tab.page.locator(".hit-link").first.click()
                tab.page.wait_for_url(re.compile(r"/view/"))
            overflow = tab.page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{name}: {overflow}px wider than the phone"
            tab.shot(name)
        assert tab.errors == []
    finally:
        tab.page.context.close()
