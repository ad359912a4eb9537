"""A small bundled news site for `newsdesk demo` and the tests.

It serves a home page, several article pages, an RSS feed and a partner Atom feed, so the whole
pipeline can run against real HTTP on 127.0.0.1 without the internet. The reference article is
third-party text, so only its page *template* ships here; the text is read at run time from the
seed file and dropped into the template (`find_seed_article`).
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from functools import cache
from pathlib import Path
from string import Template
from typing import Any
from xml.etree import ElementTree as ET

from newsdesk.errors import ConfigError

REFERENCE_PATH = "/politics/honeymoon-japan-us-leaders.html"
SEED_ENV = "NEWSDESK_SEED_ARTICLE"

HTML_TYPE = "text/html; charset=utf-8"
RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
XML_TYPE = "application/xml; charset=utf-8"

_PAGES_DIR = Path(__file__).parent / "pages"
_REPO_ROOT = Path(__file__).resolve().parents[2]
_TERMINAL_PUNCTUATION = tuple('.!?…:;,"”’)]')
_BULLETS = ("•", "·", "*", "-")


def find_seed_article() -> Path | None:
    """The reference article text: `$NEWSDESK_SEED_ARTICLE`, else `../shared/seed/article.txt`."""
    env = os.environ.get(SEED_ENV)
    if env:
        path = Path(env)
        return path if path.is_file() else None
    default = _REPO_ROOT.parent / "shared" / "seed" / "article.txt"
    return default if default.is_file() else None


@dataclass
class SeedArticle:
    """The seed text split into what a page shows: chrome, headline, byline, body and tags."""

    toolbar: list[str]
    title: str
    byline: str | None
    blocks: list[tuple[str, str]] = field(default_factory=list)  # ("p" | "h2", text)
    tags: list[str] = field(default_factory=list)
    boxes: list[str] = field(default_factory=list)

    @property
    def paragraphs(self) -> list[str]:
        return [text for kind, text in self.blocks if kind == "p"]


def _is_subheading(text: str) -> bool:
    """A short one-line block without final punctuation reads as a subheading."""
    return (
        "\n" not in text
        and len(text) <= 80
        and len(text.split()) <= 10
        and not text.endswith(_TERMINAL_PUNCTUATION)
    )


def parse_seed_article(text: str) -> SeedArticle:
    """Split naive-scraper text (blank-line separated blocks) into the parts of a news page."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if b.strip()]
    if not blocks:
        raise ConfigError("seed article is empty")

    tags: list[str] = []
    boxes: list[str] = []
    while blocks:
        lines = [line.strip() for line in blocks[-1].splitlines()]
        if not all(line.startswith(_BULLETS) for line in lines):
            break
        blocks.pop()
        for line in lines:
            item = line.lstrip("".join(_BULLETS)).strip()
            (boxes if item.lower().startswith("trending ") else tags).append(item)

    byline_at = next(
        (i for i, b in enumerate(blocks[:6]) if b.startswith("By ") and i > 0),
        None,
    )
    if byline_at is None:
        toolbar, title, byline, rest = [], blocks[0], None, blocks[1:]
    else:
        toolbar = blocks[: byline_at - 1]
        title, byline, rest = blocks[byline_at - 1], blocks[byline_at], blocks[byline_at + 1 :]
    if not rest:
        raise ConfigError("seed article has no body paragraphs")

    body = [("h2", b) if _is_subheading(b) else ("p", " ".join(b.split("\n"))) for b in rest]
    return SeedArticle(
        toolbar=toolbar,
        title=" ".join(title.split()),
        byline=byline,
        blocks=body,
        tags=tags,
        boxes=boxes,
    )


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def _attr(text: str) -> str:
    return html.escape(text, quote=True)


def _summary(text: str, limit: int = 200) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


@cache
def _read(name: str) -> str:
    return (_PAGES_DIR / name).read_text(encoding="utf-8")


@cache
def _manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_read("site.json"))
    return data


def _fill(name: str, values: dict[str, str]) -> str:
    try:
        return Template(_read(name)).substitute(values)
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"demo page template {name} has a bad placeholder: {exc}") from exc


def _article_entries(seed_article: SeedArticle | None) -> list[dict[str, Any]]:
    """Manifest entries of the pages that exist, the reference one filled in from the seed."""
    entries = []
    for entry in _manifest()["articles"]:
        entry = dict(entry)
        if entry.get("seed"):
            if seed_article is None:
                continue
            entry["title"] = seed_article.title
            entry["description"] = _summary(seed_article.paragraphs[0])
        entries.append(entry)
    entries.sort(key=lambda e: e["published"], reverse=True)
    return entries


def _common(base_url: str, entries: list[dict[str, Any]]) -> dict[str, str]:
    """Placeholders every page template may use: base URL, shared header, footer, trending box."""
    site = _manifest()
    shared = {"base_url": base_url, "site_name": _esc(site["site_name"])}
    trending = "\n".join(
        f'          <li><a href="{_attr(base_url + e["path"])}">{_esc(e["title"])}</a></li>'
        for e in entries
        if not e.get("seed")
    )
    return {
        **shared,
        "site_header": _fill("_header.html", shared),
        "site_footer": _fill("_footer.html", shared),
        "trending_list": trending,
    }


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _reference_page(common: dict[str, str], entry: dict[str, Any], seed: SeedArticle) -> str:
    base_url = common["base_url"]
    body_html = "\n".join(
        f"        <h2>{_esc(text)}</h2>" if kind == "h2" else f"        <p>{_esc(text)}</p>"
        for kind, text in seed.blocks
    )
    tags_html = "".join(
        f'<li><a href="{_attr(base_url)}/tag/{_slug(t)}/">{_esc(t)}</a></li>' for t in seed.tags
    )
    published = datetime.fromisoformat(entry["published"])
    json_ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": seed.title,
        "datePublished": published.isoformat(),
        "dateModified": published.isoformat(),
        "articleSection": entry["section"],
        "mainEntityOfPage": base_url + entry["path"],
        "publisher": {"@type": "Organization", "name": _manifest()["site_name"]},
    }
    return _fill(
        entry["template"],
        {
            **common,
            "title": _esc(seed.title),
            "title_attr": _attr(seed.title),
            "description_attr": _attr(entry["description"]),
            "byline": _esc(seed.byline or ""),
            "published_iso": published.isoformat(),
            "published_human": f"{published:%B} {published.day}, {published:%Y at %H:%M} JST",
            "toolbar": _esc(" ".join(seed.toolbar) or "print PRINT"),
            "body": body_html,
            "tags": tags_html,
            "trending_heading": _esc(seed.boxes[0] if seed.boxes else "Trending"),
            "json_ld": json.dumps(json_ld, ensure_ascii=False).replace("</", "<\\/"),
        },
    )


def _home_page(common: dict[str, str], entries: list[dict[str, Any]]) -> str:
    teasers = "\n".join(
        '        <li class="teaser">'
        f'<span class="kicker">{_esc(e["section"])}</span> '
        f'<a href="{_attr(common["base_url"] + e["path"])}">{_esc(e["title"])}</a>'
        f'<p class="dek">{_esc(e["description"])}</p></li>'
        for e in entries
    )
    return _fill("home.html", {**common, "teasers": teasers})


def _rss(base_url: str, entries: list[dict[str, Any]]) -> bytes:
    site = _manifest()
    rss = ET.Element("rss", version="2.0")
    channel = ET.SubElement(rss, "channel")
    ET.SubElement(channel, "title").text = site["site_name"]
    ET.SubElement(channel, "link").text = base_url + "/"
    ET.SubElement(channel, "description").text = site["tagline"]
    ET.SubElement(channel, "language").text = "en"
    for e in entries:
        item = ET.SubElement(channel, "item")
        link = base_url + e["path"]
        ET.SubElement(item, "title").text = e["title"]
        ET.SubElement(item, "link").text = link
        ET.SubElement(item, "guid", isPermaLink="true").text = link
        ET.SubElement(item, "pubDate").text = format_datetime(
            datetime.fromisoformat(e["published"])
        )
        ET.SubElement(item, "description").text = e["description"]
        ET.SubElement(item, "category").text = e["section"]
    return ET.tostring(rss, encoding="utf-8", xml_declaration=True)


def _atom(base_url: str, entries: list[dict[str, Any]]) -> bytes:
    """The partner feed: links carry tracking parameters, as syndication partners' do."""
    ns = "http://www.w3.org/2005/Atom"
    ET.register_namespace("", ns)
    site = _manifest()
    partner_paths = set(site["partner_feed"])
    chosen = [e for e in entries if e["path"] in partner_paths]
    feed = ET.Element(f"{{{ns}}}feed")
    ET.SubElement(feed, f"{{{ns}}}title").text = f"{site['site_name']} partner feed"
    ET.SubElement(feed, f"{{{ns}}}id").text = base_url + "/partner/feed.xml"
    ET.SubElement(feed, f"{{{ns}}}link", rel="self", href=base_url + "/partner/feed.xml")
    ET.SubElement(feed, f"{{{ns}}}link", rel="alternate", href=base_url + "/")
    updated = max((e["published"] for e in chosen), default="2024-01-01T00:00:00+00:00")
    ET.SubElement(feed, f"{{{ns}}}updated").text = datetime.fromisoformat(updated).isoformat()
    for e in chosen:
        entry = ET.SubElement(feed, f"{{{ns}}}entry")
        ET.SubElement(entry, f"{{{ns}}}title").text = e["title"]
        href = base_url + e["path"]
        if e.get("seed"):
            href += "?utm_source=x#top"
        ET.SubElement(entry, f"{{{ns}}}link", rel="alternate", href=href)
        ET.SubElement(entry, f"{{{ns}}}id").text = base_url + e["path"]
        published = datetime.fromisoformat(e["published"]).isoformat()
        ET.SubElement(entry, f"{{{ns}}}published").text = published
        ET.SubElement(entry, f"{{{ns}}}updated").text = published
        ET.SubElement(entry, f"{{{ns}}}summary").text = e["description"]
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def build_site(base_url: str, seed: Path | None = None) -> dict[str, tuple[bytes, str]]:
    """Every page of the site, path -> (body, content type), links absolute under `base_url`.

    Without a seed file the reference article is left out of the pages and the feeds.
    """
    base_url = base_url.rstrip("/")
    seed_article = None
    if seed is not None:
        try:
            text = seed.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read seed article {seed}: {exc}") from exc
        seed_article = parse_seed_article(text)

    entries = _article_entries(seed_article)
    common = _common(base_url, entries)
    pages: dict[str, tuple[bytes, str]] = {}
    for entry in entries:
        if seed_article is not None and entry.get("seed"):
            page = _reference_page(common, entry, seed_article)
        else:
            page = _fill(entry["template"], common)
        pages[entry["path"]] = (page.encode("utf-8"), HTML_TYPE)

    pages["/"] = (_home_page(common, entries).encode("utf-8"), HTML_TYPE)
    pages["/feed.xml"] = (_rss(base_url, entries), RSS_TYPE)
    pages["/partner/feed.xml"] = (_atom(base_url, entries), ATOM_TYPE)
    pages["/robots.txt"] = (
        f"User-agent: *\nAllow: /\nSitemap: {base_url}/sitemap.xml\n".encode(),
        TEXT_TYPE,
    )
    pages["/sitemap.xml"] = (_sitemap(base_url, entries), XML_TYPE)
    return pages


def _sitemap(base_url: str, entries: list[dict[str, Any]]) -> bytes:
    ns = "http://www.sitemaps.org/schemas/sitemap/0.9"
    urlset = ET.Element("urlset", xmlns=ns)
    for e in entries:
        url = ET.SubElement(urlset, "url")
        ET.SubElement(url, "loc").text = base_url + e["path"]
        ET.SubElement(url, "lastmod").text = datetime.fromisoformat(e["published"]).isoformat()
    return ET.tostring(urlset, encoding="utf-8", xml_declaration=True)
