"""Loopback news sites for the ingestion tests: article pages in two different page designs,
RSS feeds with validators, and the request log of `tests.servers.TestServer`.

The stories are written for these tests. `WIRE` is one agency story; `wire_variant` is how a
second paper runs it (other dateline style, a figure for a word, an added credit line), so the
two copies are near duplicates, not exact ones. `FERRY` and `LIBRARY` are different stories.
"""

from __future__ import annotations

import html
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from elasticsearch import Elasticsearch

from newsdesk.settings import Settings
from newsdesk.sources import SourceConfig
from tests.servers import Handler, Route, TestServer, respond


@dataclass(frozen=True)
class Story:
    title: str
    author: str
    paragraphs: tuple[str, ...]


WIRE = Story(
    title="Regional board keeps 14 rural bus routes running through spring",
    author="Keiko Arai",
    paragraphs=(
        "OSAKA (Wire) -- The regional transport board on Tuesday approved a plan to keep 14 "
        "rural bus routes running through next spring, after months of talks with the three "
        "companies that operate them.",
        "The board will pay the operators a fixed fee per kilometre instead of covering their "
        "losses, a change officials said would reward punctual service and make the subsidy "
        "easier to audit.",
        "Riders in the mountain towns north of the city had warned that a shutdown would leave "
        "elderly residents without a way to reach hospitals and the weekly markets.",
        '"We listened to every town hall," said the board chair, Mariko Tanabe, adding that the '
        "fee would be reviewed after twelve months of service data.",
        "The operators, which lost a combined 1.2 billion yen last year, said they would hire "
        "forty drivers before the winter timetable starts in December.",
        "Critics said the plan only delays a decision on whether smaller on-demand vans should "
        "replace the largest buses on the quietest routes, where some runs carry two people.",
    ),
)

FERRY = Story(
    title="Island ferry adds a night sailing after a summer of full decks",
    author="Tomas Berg",
    paragraphs=(
        "The harbour authority will add a late-evening ferry between the mainland and the "
        "outer islands from June, after a summer in which the last boat left passengers "
        "waiting on the quay three weekends in a row.",
        "The new sailing leaves the mainland at half past ten and returns before one in the "
        "morning, a timetable the crew union accepted in exchange for an extra rest day.",
        "Island shopkeepers said the change would let day visitors stay for dinner, while "
        "residents asked for a guarantee that cars with medical appointments keep priority.",
        '"Nobody should sleep in a car park because the boat was full," the harbour master, '
        "Lena Holm, told a meeting of the island council on Thursday evening.",
        "Ticket prices stay the same this year, but the authority expects to review them once "
        "fuel contracts are renewed in the autumn.",
    ),
)

LIBRARY = Story(
    title="City library opens a repair cafe for broken radios and toasters",
    author="Ada Okafor",
    paragraphs=(
        "The central library has turned its basement reading room into a repair cafe, where "
        "volunteers with soldering irons fix lamps, radios and toasters every Saturday.",
        "In the first month they repaired 212 items and turned away only nine, most of them "
        "phones sealed with glue that the volunteers said they could not open safely.",
        "The librarian who proposed the idea, Samuel Reyes, said lending tools was a natural "
        "step for a building that has lent books to the neighbourhood for a century.",
        "Visitors sign a form, wait with a coffee, and are asked to hold the screwdriver "
        "themselves, so that they learn enough to fix the next fault at home.",
        "The council has promised funding for a second year if the volunteers keep records "
        "of how many kilograms of electronics stay out of the landfill.",
    ),
)


def wire_variant(story: Story) -> Story:
    """The wire story as a second paper runs it: its own dateline style, a number written in
    figures, a credit line added (shingle Jaccard similarity to the original is about 0.9)."""
    first = story.paragraphs[0].replace("OSAKA (Wire) --", "OSAKA --")
    rest = tuple(p.replace("forty drivers", "40 drivers") for p in story.paragraphs[1:])
    credit = "Additional reporting by the Courier's regional desk."
    return Story(story.title.replace("keeps", "will keep"), story.author, (first, *rest, credit))


_CHROME_A = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{title} | The Harbour Times</title>
<meta property="og:title" content="{title_attr}"><meta property="og:type" content="article">
<meta name="author" content="{author_attr}">{canonical}
<meta property="article:published_time" content="{published}">
<script type="application/ld+json">{json_ld}</script></head>
<body><header class="masthead"><a href="/">The Harbour Times</a>
<nav><a href="/news">News</a> <a href="/sport">Sport</a> <a href="/weather">Weather</a>
<a href="/subscribe">Subscribe for 1 euro</a></nav></header>
<main><article><h1>{title}</h1><p class="byline">By {author}</p>
{paragraphs}
</article>
<aside class="most-read"><h3>Most read</h3><ol><li><a href="/x1">Council votes on parking fees
</a></li><li><a href="/x2">Storm closes the coast road for the second time this week</a></li>
</ol></aside></main>
<footer><p>© The Harbour Times. All rights reserved.</p><a href="/privacy">Privacy</a></footer>
</body></html>"""

_CHROME_B = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{title} - Valley Courier</title>{canonical}
<meta property="og:title" content="{title_attr}">
<script type="application/ld+json">{json_ld}</script></head>
<body><div id="cookie-banner">We use cookies to improve your experience.
<button>Accept all</button></div>
<div class="top-bar"><span>Valley Courier</span> <a href="/e-paper">E-paper</a>
<a href="/login">Log in</a></div>
<div class="layout"><div class="story"><h1 class="story-title">{title}</h1>
<div class="meta">Published {published_human} · by <span class="author">{author}</span></div>
<div class="story-body">
{paragraphs}
</div>
<div class="newsletter"><h4>Get the Courier in your inbox</h4><form><input type="email">
<button>Sign up</button></form></div></div>
<div class="sidebar"><h4>Related</h4><ul><li><a href="/r1">Valley farmers count the cost
of the late frost</a></li><li><a href="/r2">School run chaos as bridge repairs overrun</a></li>
</ul></div></div>
<div class="footer">Valley Courier · 12 Mill Street · Contact the newsroom</div>
</body></html>"""

PUBLISHED = datetime(2024, 3, 12, 9, 0, tzinfo=UTC)


def article_page(
    story: Story,
    *,
    design: str = "a",
    canonical: str | None = None,
    published: datetime = PUBLISHED,
) -> bytes:
    """An article page in design `a` or `b` (different markup, navigation and boxes)."""
    json_ld = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": story.title,
            "datePublished": published.isoformat(),
            "author": {"@type": "Person", "name": story.author},
        }
    ).replace("</", "<\\/")
    template = _CHROME_A if design == "a" else _CHROME_B
    return template.format(
        title=html.escape(story.title, quote=False),
        title_attr=html.escape(story.title),
        author=html.escape(story.author, quote=False),
        author_attr=html.escape(story.author),
        canonical=f'<link rel="canonical" href="{html.escape(canonical)}">' if canonical else "",
        published=published.isoformat(),
        published_human=published.strftime("%d %B %Y"),
        json_ld=json_ld,
        paragraphs="\n".join(f"<p>{html.escape(p, quote=False)}</p>" for p in story.paragraphs),
    ).encode("utf-8")


def rss(items: Iterable[tuple[str, str]], *, title: str = "Test feed") -> bytes:
    """An RSS 2.0 feed of (title, link) items, newest first, a minute apart."""
    parts = []
    for i, (item_title, link) in enumerate(items):
        when = format_datetime(PUBLISHED - timedelta(minutes=i))
        parts.append(
            f"<item><title>{html.escape(item_title)}</title><link>{html.escape(link)}</link>"
            f"<guid>{html.escape(link)}</guid><pubDate>{when}</pubDate></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{html.escape(title)}</title><link>http://example.invalid/</link>"
        f"<description>t</description>{''.join(parts)}</channel></rss>"
    ).encode()


RSS_TYPE = "application/rss+xml; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"


def html_route(body: bytes) -> Route:
    return respond(200, body, content_type=HTML_TYPE)


def feed_route(body: bytes | Callable[[], bytes], *, etag: str | None = "auto") -> Route:
    """A feed honouring If-None-Match and If-Modified-Since; `etag="lying"` sends a new ETag
    on every response and ignores both validators, as some servers do."""
    counter = iter(range(1, 1_000_000))
    lock = threading.Lock()
    last_modified = format_datetime(PUBLISHED, usegmt=True)

    def route(h: Handler) -> None:
        data = body() if callable(body) else body
        if etag == "lying":
            with lock:
                tag = f'"v{next(counter)}"'
            headers = {"Content-Type": RSS_TYPE, "Content-Length": str(len(data)), "ETag": tag}
            h.send_head(200, {**headers, "Last-Modified": last_modified})
            h.wfile.write(data)
            return
        tag = f'"{abs(hash(data)):x}"' if etag == "auto" else etag
        headers = {"Last-Modified": last_modified}
        if tag:
            headers["ETag"] = tag
        if (tag and h.headers.get("If-None-Match") == tag) or (
            not tag and h.headers.get("If-Modified-Since") == last_modified
        ):
            h.send_head(304, {**headers, "Content-Length": "0"})
            return
        h.send_head(200, {**headers, "Content-Type": RSS_TYPE, "Content-Length": str(len(data))})
        h.wfile.write(data)

    return route


def page_paths(server: TestServer, prefix: str = "/news/") -> list[str]:
    """Requested article paths, in order (feeds and robots.txt left out)."""
    return [p.split("?", 1)[0] for p in server.paths() if p.startswith(prefix)]


def drop_ingest_indices(client: Elasticsearch, settings: Settings) -> None:
    """Delete the per-source state and dead-letter indices a test created (by exact name)."""
    from newsdesk.deadletter import ledger_index
    from newsdesk.source_state import state_index
    from newsdesk.state_indices import forget_index

    for name in (state_index(settings), ledger_index(settings)):
        client.indices.delete(index=name, ignore_unavailable=True)
        forget_index(name)


def indexed_ids(client: Elasticsearch, settings: Settings) -> set[str]:
    """Every document id in the articles index (after a refresh)."""
    client.indices.refresh(index=settings.index_alias)
    resp = client.search(
        index=settings.index_alias, size=1000, source=False, query={"match_all": {}}
    )
    return {hit["_id"] for hit in resp["hits"]["hits"]}


def feed_source(name: str, url: str) -> SourceConfig:
    return SourceConfig.model_validate({"name": name, "url": url})
