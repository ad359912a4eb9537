"""A synthetic news site, deterministic from a seed, generated page by page on request.

`Site(spec)` knows every page's metadata (`meta(i)`) and renders any page (`page(i)`) or feed
(`feed(k)`) in about a millisecond, so a site of 10,000 pages of 100-250 KB (1.5 GB of HTML)
is neither stored nor pre-generated. `serve(spec)` runs it on 127.0.0.1 in a child process
(threaded HTTP/1.1 with keep-alive) so its CPU is not billed to the process under test.

What the site holds, so the pipeline meets what real sites throw at it:

* four layouts (semantic `<article>` with JSON-LD, div soup with meta tags, wire copy with a
  dateline and microdata, magazine feature with figures and subheadings) and four languages
  (en, de, es, fr);
* 100-250 KB per page: CSS, analytics and app-state scripts, a mega-menu, related links,
  comments, a footer;
* bylines (one or two authors, some with role and agency), datelines, quotes with speakers;
* duplicates: cross-posted feed links with tracking parameters, syndicated copies at another URL
  whose canonical link names the original, near-duplicate updates of an earlier story;
* pages that are not articles (galleries) and feed links that answer 404.

`expected_counts(spec)` says what an ingest of the whole site must report.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import random
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cached_property
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import urlsplit

Kind = Literal["article", "syndicated", "update", "gallery", "broken"]
LAYOUTS = ("semantic", "divsoup", "wire", "magazine")
EPOCH = datetime(2026, 1, 1, 6, 0, tzinfo=UTC)


@dataclass(frozen=True)
class SiteSpec:
    """The whole site follows from these numbers; equal specs give byte-identical pages."""

    articles: int = 10_000
    feeds: int = 50
    seed: int = 7
    cross_post_rate: float = 0.05
    syndicated_rate: float = 0.02
    update_rate: float = 0.03
    gallery_rate: float = 0.005
    broken_rate: float = 0.002
    min_kb: int = 100
    max_kb: int = 250

    def args(self) -> list[str]:
        """Command-line options that rebuild this spec (`spec_from_args`)."""
        return [f"--spec={json.dumps(dataclasses.asdict(self))}"]


@dataclass(frozen=True)
class PageMeta:
    index: int
    kind: Kind
    lang: str
    layout: str
    section: str
    published: datetime
    headline: str
    path: str
    feed: int
    cross_feed: int | None
    origin: int
    """The page whose story this page tells (itself unless syndicated or an update)."""


# --- vocabulary ------------------------------------------------------------------------------

_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "subj": (
            "The council",
            "Officials",
            "The ministry",
            "Local residents",
            "The company",
            "Researchers",
            "The union",
            "Investors",
            "The regional government",
            "Prosecutors",
            "Health authorities",
            "The central bank",
            "Farmers",
            "The coalition",
            "Engineers",
            "Teachers",
        ),
        "verb": (
            "approved",
            "rejected",
            "announced",
            "postponed",
            "criticised",
            "defended",
            "expanded",
            "reviewed",
            "funded",
            "questioned",
            "welcomed",
            "blocked",
        ),
        "obj": (
            "a new budget for public transport",
            "the plan to rebuild the harbour",
            "stricter rules on river pollution",
            "a pilot programme for rural clinics",
            "the merger of two regional lenders",
            "higher fees for parking in the centre",
            "an inquiry into the contract",
            "the expansion of the wind farm",
            "a proposal to extend school hours",
            "emergency funds for flooded districts",
            "the sale of the state rail operator",
            "new housing on the former airfield",
        ),
        "tail": (
            "on Tuesday",
            "after months of debate",
            "despite objections from opposition members",
            "according to documents seen by reporters",
            "in a vote that surprised observers",
            "ahead of next year's elections",
            "as costs continued to rise",
            "following a series of public hearings",
        ),
        "said": ("said", "told reporters", "added", "warned", "explained"),
        "quote": (
            "We cannot keep postponing decisions that affect every family in this city",
            "The numbers simply do not add up, and everyone in the room knows it",
            "This is the most important investment the region has made in a generation",
            "Nobody consulted the people who will actually have to live with the result",
            "We expect the first results to be visible before the end of the year",
            "It is a compromise, and like every compromise it leaves someone unhappy",
        ),
        "role": (
            "the mayor",
            "a spokesperson for the ministry",
            "the chief executive",
            "an economist",
        ),
        "by": "By",
        "and": "and",
        "related": "Related coverage",
        "comments": "Comments",
        "more": "Read more",
    },
    "de": {
        "subj": (
            "Der Stadtrat",
            "Die Behörden",
            "Das Ministerium",
            "Die Anwohner",
            "Das Unternehmen",
            "Die Forscher",
            "Die Gewerkschaft",
            "Die Landesregierung",
            "Die Staatsanwaltschaft",
            "Die Bundesbank",
        ),
        "verb": (
            "hat beschlossen",
            "hat abgelehnt",
            "kündigte an",
            "verschob",
            "kritisierte",
            "verteidigte",
            "prüft",
            "begrüßte",
        ),
        "obj": (
            "einen neuen Haushalt für den Nahverkehr",
            "den Plan zum Umbau des Hafens",
            "strengere Regeln gegen die Verschmutzung des Flusses",
            "ein Pilotprojekt für Kliniken auf dem Land",
            "die Fusion zweier regionaler Banken",
            "höhere Parkgebühren in der Innenstadt",
            "eine Untersuchung des Vertrags",
            "den Ausbau des Windparks",
        ),
        "tail": (
            "am Dienstag",
            "nach monatelanger Debatte",
            "trotz Einwänden der Opposition",
            "wie aus Unterlagen hervorgeht",
            "vor den Wahlen im nächsten Jahr",
            "während die Kosten weiter steigen",
        ),
        "said": ("sagte", "erklärte", "betonte", "warnte"),
        "quote": (
            "Wir können Entscheidungen, die jede Familie betreffen, nicht weiter aufschieben",
            "Die Zahlen gehen einfach nicht auf, und das weiß jeder im Saal",
            "Das ist die wichtigste Investition der Region seit einer Generation",
            "Niemand hat die Menschen gefragt, die mit dem Ergebnis leben müssen",
        ),
        "role": ("der Bürgermeister", "eine Sprecherin des Ministeriums", "der Vorstandschef"),
        "by": "Von",
        "and": "und",
        "related": "Mehr zum Thema",
        "comments": "Kommentare",
        "more": "Weiterlesen",
    },
    "es": {
        "subj": (
            "El ayuntamiento",
            "Las autoridades",
            "El ministerio",
            "Los vecinos",
            "La empresa",
            "Los investigadores",
            "El sindicato",
            "El gobierno regional",
            "La fiscalía",
            "El banco central",
        ),
        "verb": ("aprobó", "rechazó", "anunció", "aplazó", "criticó", "defendió", "revisó"),
        "obj": (
            "un nuevo presupuesto para el transporte público",
            "el plan para reconstruir el puerto",
            "normas más estrictas contra la contaminación del río",
            "un programa piloto para clínicas rurales",
            "la fusión de dos bancos regionales",
            "tarifas más altas para aparcar en el centro",
            "una investigación sobre el contrato",
        ),
        "tail": (
            "el martes",
            "tras meses de debate",
            "pese a las objeciones de la oposición",
            "según documentos consultados por este diario",
            "antes de las elecciones del próximo año",
        ),
        "said": ("dijo", "afirmó", "explicó", "advirtió"),
        "quote": (
            "No podemos seguir aplazando decisiones que afectan a todas las familias",
            "Las cuentas simplemente no cuadran y todos en la sala lo saben",
            "Es la inversión más importante que ha hecho la región en una generación",
        ),
        "role": ("el alcalde", "una portavoz del ministerio", "el consejero delegado"),
        "by": "Por",
        "and": "y",
        "related": "Noticias relacionadas",
        "comments": "Comentarios",
        "more": "Leer más",
    },
    "fr": {
        "subj": (
            "Le conseil municipal",
            "Les autorités",
            "Le ministère",
            "Les habitants",
            "L'entreprise",
            "Les chercheurs",
            "Le syndicat",
            "Le gouvernement régional",
            "Le parquet",
        ),
        "verb": ("a approuvé", "a rejeté", "a annoncé", "a reporté", "a critiqué", "a défendu"),
        "obj": (
            "un nouveau budget pour les transports publics",
            "le projet de reconstruction du port",
            "des règles plus strictes contre la pollution de la rivière",
            "un programme pilote pour les cliniques rurales",
            "la fusion de deux banques régionales",
            "une enquête sur le contrat",
        ),
        "tail": (
            "mardi",
            "après des mois de débat",
            "malgré les objections de l'opposition",
            "selon des documents consultés par la rédaction",
            "avant les élections de l'année prochaine",
        ),
        "said": ("a déclaré", "a affirmé", "a expliqué", "a averti"),
        "quote": (
            "Nous ne pouvons pas continuer à reporter des décisions qui touchent chaque famille",
            "Les chiffres ne tiennent tout simplement pas, et tout le monde le sait",
            "C'est l'investissement le plus important de la région depuis une génération",
        ),
        "role": ("le maire", "une porte-parole du ministère", "le directeur général"),
        "by": "Par",
        "and": "et",
        "related": "À lire aussi",
        "comments": "Commentaires",
        "more": "Lire la suite",
    },
}
_LANGS = ("en",) * 12 + ("de",) * 3 + ("es",) * 3 + ("fr",) * 2
_FIRST = (
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Elena",
    "Farid",
    "Greta",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemal",
    "Lucia",
    "Marta",
    "Noah",
    "Olga",
    "Pablo",
    "Rosa",
    "Samuel",
    "Tomas",
    "Yuki",
)
_LAST = (
    "Keller",
    "Moreau",
    "Garcia",
    "Novak",
    "Schmidt",
    "Okafor",
    "Lindqvist",
    "Tanaka",
    "Rossi",
    "Dubois",
    "Fischer",
    "Santos",
    "Brennan",
    "Kowalski",
    "Haddad",
    "Jensen",
)
_CITIES = ("BERLIN", "MADRID", "PARIS", "LONDON", "LISBON", "VIENNA", "WARSAW", "DUBLIN", "OSLO")
_AGENCIES = ("Reuters", "AP", "AFP", "dpa", "EFE")
_SECTIONS = ("politics", "business", "world", "science", "culture", "sport", "local", "climate")
_ORGS = ("Northwind Energy", "the Harbour Authority", "Meridian Bank", "the Transit Board")


def _person(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"


def _sentence(rng: random.Random, words: dict[str, tuple[str, ...]]) -> str:
    s = f"{rng.choice(words['subj'])} {rng.choice(words['verb'])} {rng.choice(words['obj'])}"
    if rng.random() < 0.6:
        s += f" {rng.choice(words['tail'])}"
    if rng.random() < 0.3:
        s += f", {rng.randint(2, 98)} {'percent' if words is _WORDS['en'] else '%'}"
    return s + "."


def _quote(rng: random.Random, lang: str, speaker: str, words: dict[str, tuple[str, ...]]) -> str:
    text, verb, role = (
        rng.choice(words["quote"]),
        rng.choice(words["said"]),
        rng.choice(words["role"]),
    )
    if lang == "de":
        return f"„{text}“, {verb} {speaker}, {role}."
    if lang == "es":
        return f"«{text}», {verb} {speaker}, {role}."
    if lang == "fr":
        return f"« {text} », {verb} {speaker}, {role}."
    return f"“{text},” {verb} {speaker}, {role}."


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "story"


# --- the site --------------------------------------------------------------------------------


class Site:
    """Metadata and pages of the synthetic site for one `SiteSpec` (pure, thread-safe)."""

    def __init__(self, spec: SiteSpec, base_url: str = "http://127.0.0.1") -> None:
        self.spec = spec
        self.base_url = base_url.rstrip("/")

    def _rng(self, *key: object) -> random.Random:
        return random.Random(":".join(str(k) for k in (self.spec.seed, *key)))

    def meta(self, i: int) -> PageMeta:
        found = self._metas.get(i)
        if found is None:
            found = self._metas[i] = self._make_meta(i)
        return found

    @cached_property
    def _metas(self) -> dict[int, PageMeta]:
        return {}

    def _make_meta(self, i: int) -> PageMeta:
        if not 0 <= i < self.spec.articles:
            raise IndexError(i)
        rng = self._rng("meta", i)
        spec = self.spec
        roll = rng.random()
        kind: Kind = "article"
        origin = i
        if i >= 20:
            edges = (spec.broken_rate, spec.gallery_rate, spec.syndicated_rate, spec.update_rate)
            names: tuple[Kind, ...] = ("broken", "gallery", "syndicated", "update")
            acc = 0.0
            for name, rate in zip(names, edges, strict=True):
                acc += rate
                if roll < acc:
                    kind = name
                    break
            if kind in ("syndicated", "update"):
                origin = self.meta(rng.randrange(0, i)).origin
                if self.meta(origin).kind != "article":
                    kind, origin = "article", i
        story = self._rng("story", origin)
        lang = story.choice(_LANGS)
        words = _WORDS[lang]
        headline = (
            f"{story.choice(words['subj'])} {story.choice(words['verb'])} "
            f"{story.choice(words['obj'])}"
        )
        if kind == "update":
            headline += " (updated)" if lang == "en" else " – Update"
        if kind == "gallery":
            headline = f"In pictures: {story.choice(_CITIES).title()} {i}"
        published = EPOCH + timedelta(minutes=int(i * 47 + rng.randrange(0, 40)))
        section = story.choice(_SECTIONS)
        path = (
            f"/{section}/{published:%Y/%m/%d}/{_slug(headline)}-a{i}.html"
            if kind != "gallery"
            else f"/gallery/{published:%Y/%m/%d}/pictures-a{i}.html"
        )
        cross = None
        if spec.feeds > 1 and rng.random() < spec.cross_post_rate:
            cross = (i + 1 + rng.randrange(spec.feeds - 1)) % spec.feeds
        return PageMeta(
            index=i,
            kind=kind,
            lang=lang,
            layout=rng.choice(LAYOUTS),
            section=section,
            published=published,
            headline=headline,
            path=path,
            feed=i % spec.feeds,
            cross_feed=cross,
            origin=origin,
        )

    def url(self, i: int) -> str:
        return self.base_url + self.meta(i).path

    def feed_path(self, k: int) -> str:
        return f"/feeds/desk-{k:03d}.xml"

    def feed_url(self, k: int) -> str:
        return self.base_url + self.feed_path(k)

    def find(self, path: str) -> int | None:
        """The page index a request path names, or None (404)."""
        match = re.search(r"-a(\d+)\.html$", path)
        if not match:
            return None
        i = int(match.group(1))
        if i >= self.spec.articles or self.meta(i).path != path:
            return None
        return i

    # -- feeds ---------------------------------------------------------------------------------

    def feed_items(self, k: int, released: int | None = None) -> list[tuple[PageMeta, str]]:
        """(page, link) pairs of feed `k`, newest first; cross-posts carry tracking parameters.
        With `released`, only pages `0 … released-1` are published yet (a site that grows)."""
        n, m = self.spec.articles, self.spec.feeds
        if released is not None:
            n = max(0, min(n, released))
        items = [(self.meta(i), self.url(i)) for i in range(k, n, m)]
        for i in range(n):
            meta = self.meta(i)
            if meta.cross_feed == k:
                items.append((meta, f"{self.url(i)}?utm_source=desk-{k:03d}&utm_medium=rss"))
        items.sort(key=lambda item: (item[0].published, item[1]), reverse=True)
        return items

    def feed(self, k: int, released: int | None = None) -> bytes:
        out = [
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
            f"<title>Desk {k}</title><link>{self.base_url}/</link>",
            f"<description>Synthetic desk {k}</description>",
        ]
        for meta, link in self.feed_items(k, released):
            rng = self._rng("summary", meta.origin)
            summary = _sentence(rng, _WORDS[meta.lang])
            out.append(
                f"<item><title>{escape(meta.headline)}</title><link>{escape(link)}</link>"
                f"<guid>{escape(link)}</guid><pubDate>{format_datetime(meta.published)}</pubDate>"
                f"<category>{meta.section}</category>"
                f"<description>{escape(summary)}</description></item>"
            )
        out.append("</channel></rss>")
        return "\n".join(out).encode("utf-8")

    def robots(self) -> bytes:
        return b"User-agent: *\nAllow: /\n"

    def home(self) -> bytes:
        links = "".join(
            f'<li><a href="{self.feed_path(k)}">Desk {k}</a></li>' for k in range(self.spec.feeds)
        )
        return f"<!doctype html><html><body><ul>{links}</ul></body></html>".encode()

    # -- pages ---------------------------------------------------------------------------------

    @cached_property
    def _padding(self) -> str:
        """A pool of app-state JSON that pages slice their script padding from."""
        rng = self._rng("padding")
        teasers = [
            {
                "id": rng.randrange(10**9),
                "headline": _sentence(rng, _WORDS["en"]),
                "kicker": rng.choice(_SECTIONS),
                "img": f"/img/{rng.randrange(10**6)}.jpg",
                "tracking": {"slot": rng.randrange(99), "ab": rng.choice("ABCD")},
            }
            for _ in range(2500)
        ]
        return json.dumps(teasers, ensure_ascii=False)

    @cached_property
    def _css(self) -> str:
        rng = self._rng("css")
        rules = []
        for n in range(400):
            rules.append(
                f".c{n}-{rng.randrange(10**4)}{{margin:{rng.randrange(40)}px;"
                f"color:#{rng.randrange(16**6):06x};display:{rng.choice(('block', 'flex'))}}}"
            )
        return "".join(rules)

    @cached_property
    def _nav(self) -> str:
        links = []
        for section in _SECTIONS:
            sub = "".join(
                f'<li><a href="/{section}/topic-{n}">{section.title()} topic {n}</a></li>'
                for n in range(18)
            )
            links.append(
                f'<li class="menu"><a href="/{section}">{section.title()}</a><ul>{sub}</ul></li>'
            )
        return f'<nav class="mega-menu" role="navigation"><ul>{"".join(links)}</ul></nav>'

    @cached_property
    def _footer(self) -> str:
        links = "".join(f'<a href="/info/page-{n}">Service page {n}</a> ' for n in range(50))
        return (
            f'<footer class="site-footer"><div class="links">{links}</div>'
            "<p>© 2026 Synthetic Daily. All rights reserved. Terms · Privacy · Cookies</p></footer>"
        )

    def _story(self, origin: int, kind: Kind) -> dict[str, Any]:
        """The words of a story; an update rewrites one paragraph of its origin."""
        meta = self.meta(origin)
        rng = self._rng("story-text", origin)
        words = _WORDS[meta.lang]
        authors = [_person(rng) for _ in range(1 if rng.random() < 0.7 else 2)]
        agency = rng.choice(_AGENCIES) if rng.random() < 0.4 else None
        city = rng.choice(_CITIES)
        speakers = [_person(rng) for _ in range(3)]
        paragraphs = []
        for p in range(rng.randint(8, 18)):
            if p > 0 and rng.random() < 0.3:
                paragraphs.append(_quote(rng, meta.lang, rng.choice(speakers), words))
            else:
                paragraphs.append(" ".join(_sentence(rng, words) for _ in range(rng.randint(2, 5))))
        subheads = {n: _sentence(rng, words).rstrip(".") for n in range(4, len(paragraphs), 5)}
        if kind == "update":
            upd = self._rng("update", origin)
            k = upd.randrange(len(paragraphs))
            paragraphs[k] = " ".join(_sentence(upd, words) for _ in range(3))
        return {
            "authors": authors,
            "agency": agency,
            "dateline": f"{city} ({agency}) —" if agency else f"{city} —",
            "paragraphs": paragraphs,
            "subheads": subheads,
            "role": rng.choice(("Staff reporter", "Correspondent", "Economics editor", None)),
            "description": paragraphs[0][:180],
        }

    def page(self, i: int) -> bytes:
        """The HTML of page `i` (a 404 body for broken links is the server's business)."""
        meta = self.meta(i)
        rng = self._rng("page", i)
        target = rng.randint(self.spec.min_kb, self.spec.max_kb) * 1024
        if meta.kind == "gallery":
            main = self._gallery(meta, rng)
            head_extra = ""
        else:
            story = self._story(meta.origin, meta.kind)
            main = self._article(meta, story, rng)
            head_extra = self._article_head(meta, story)
        canonical = self.url(meta.origin if meta.kind == "syndicated" else i)
        related = "".join(
            f'<li><a href="{self.meta(j).path}">{escape(self.meta(j).headline)}</a></li>'
            for j in (rng.randrange(self.spec.articles) for _ in range(12))
        )
        words = _WORDS[meta.lang]
        comments = "".join(
            f'<div class="comment"><span class="user">{_person(rng).split()[0].lower()}'
            f"{rng.randrange(99)}</span><p>{escape(_sentence(rng, words))}</p></div>"
            for _ in range(rng.randint(0, 25))
        )
        head = (
            f'<!DOCTYPE html>\n<html lang="{meta.lang}"><head><meta charset="utf-8">'
            f"<title>{escape(meta.headline)} | Synthetic Daily</title>"
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="canonical" href="{canonical}">{head_extra}'
            f"<style>{self._css}</style>"
            "<script>window.dataLayer=window.dataLayer||[];"
            "function gtag(){dataLayer.push(arguments)}"
            f"gtag('config','G-{rng.randrange(10**8)}');</script></head>"
        )
        body = (
            f'<body class="layout-{meta.layout}"><header class="masthead"><a href="/">'
            f'Synthetic Daily</a>{self._nav}<div class="ad" id="ad-top">Advertisement</div>'
            "</header>"
            f"{main}"
            f'<aside class="related"><h3>{words["related"]}</h3><ul>{related}</ul></aside>'
            f'<section id="comments"><h3>{words["comments"]}</h3>{comments}</section>'
            f"{self._footer}"
        )
        size = len(head) + len(body) + 40
        pool = self._padding
        want = max(0, min(target - size, len(pool) - 1))
        start = rng.randrange(0, len(pool) - want) if want else 0
        state = pool[start : start + want].replace("</", "<\\/")
        return f"{head}{body}<script>window.__STATE__=[{state}];</script></body></html>".encode()

    def _article_head(self, meta: PageMeta, story: dict[str, Any]) -> str:
        published = self.meta(meta.origin).published
        modified = published + timedelta(hours=3) if meta.kind == "update" else None
        parts = [
            f'<meta name="description" content="{escape(story["description"])}">',
            f'<meta property="og:title" content="{escape(meta.headline)}">',
            '<meta property="og:type" content="article">',
            '<meta property="og:site_name" content="Synthetic Daily">',
        ]
        if meta.layout in ("divsoup", "magazine"):
            parts.append(
                f'<meta property="article:published_time" content="{published.isoformat()}">'
            )
            parts.append(f'<meta name="author" content="{escape(", ".join(story["authors"]))}">')
        if modified:
            parts.append(
                f'<meta property="article:modified_time" content="{modified.isoformat()}">'
            )
        if meta.layout in ("semantic", "magazine"):
            ld: dict[str, Any] = {
                "@context": "https://schema.org",
                "@type": "NewsArticle",
                "headline": meta.headline,
                "datePublished": published.isoformat(),
                "author": [{"@type": "Person", "name": a} for a in story["authors"]],
                "publisher": {"@type": "Organization", "name": "Synthetic Daily"},
                "inLanguage": meta.lang,
                "articleSection": meta.section,
            }
            if modified:
                ld["dateModified"] = modified.isoformat()
            parts.append(
                f'<script type="application/ld+json">{json.dumps(ld, ensure_ascii=False)}</script>'
            )
        return "".join(parts)

    def _article(self, meta: PageMeta, story: dict[str, Any], rng: random.Random) -> str:
        words = _WORDS[meta.lang]
        names = f" {words['and']} ".join(story["authors"])
        byline = f"{words['by']} {names}"
        if story["agency"] and meta.layout == "wire":
            byline += f", {story['agency']}"
        published = self.meta(meta.origin).published
        stamp = f'<time datetime="{published.isoformat()}">{published:%d %B %Y, %H:%M}</time>'
        paras = []
        for n, text in enumerate(story["paragraphs"]):
            if n == 0 and meta.layout == "wire":
                text = f"{story['dateline']} {text}"
            if n in story["subheads"]:
                paras.append(f"<h2>{escape(story['subheads'][n])}</h2>")
            if meta.layout == "magazine" and text.startswith(("“", "„", "«")) and n % 2:
                paras.append(f"<blockquote><p>{escape(text)}</p></blockquote>")
            else:
                paras.append(f"<p>{escape(text)}</p>")
            if n == 3:
                paras.append('<div class="ad inline-ad">Advertisement</div>')
            if n == 5 and meta.layout != "wire":
                other = self.meta(rng.randrange(self.spec.articles)).path
                paras.append(
                    f'<div class="inline-related"><a href="{other}">{words["more"]}</a></div>'
                )
        text = "".join(paras)
        title = escape(meta.headline)
        if meta.layout == "semantic":
            return (
                f'<main><article class="story"><header><h1>{title}</h1>'
                f'<p class="byline">{escape(byline)}</p>{stamp}</header>'
                f'<div class="article-body">{text}</div></article></main>'
            )
        if meta.layout == "divsoup":
            return (
                f'<div id="main"><div class="story"><div class="headline"><h1>{title}</h1></div>'
                f'<div class="meta"><span class="author">{escape(byline)}</span>'
                f'<span class="date">{stamp}</span></div>'
                '<div class="share">Share · Tweet · Mail</div>'
                f'<div class="story-text">{text}</div></div></div>'
            )
        if meta.layout == "wire":
            role = f'<span class="role">{story["role"]}</span>' if story["role"] else ""
            return (
                '<main itemscope itemtype="https://schema.org/NewsArticle">'
                '<h1 itemprop="headline">'
                f'{title}</h1><div class="byline" itemprop="author">{escape(byline)}{role}</div>'
                f'<div itemprop="datePublished" content="{published.isoformat()}">{stamp}</div>'
                f'<div itemprop="articleBody">{text}</div></main>'
            )
        figure = (
            f'<figure><img src="/img/{meta.origin}.jpg" alt="">'
            f"<figcaption>{escape(story['description'][:80])}</figcaption></figure>"
        )
        return (
            f'<div class="page"><section class="content"><h1 class="feature-title">{title}</h1>'
            f'<div class="credits">{escape(byline)} · {stamp}</div>{figure}'
            f'<div class="feature-body">{text}</div></section></div>'
        )

    def _gallery(self, meta: PageMeta, rng: random.Random) -> str:
        figures = "".join(
            f'<figure><img src="/img/g{meta.index}-{n}.jpg" alt=""><figcaption>Photo {n}'
            "</figcaption></figure>"
            for n in range(rng.randint(8, 20))
        )
        return f'<main class="gallery"><h1>{escape(meta.headline)}</h1>{figures}</main>'


# --- expected outcomes -----------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedCounts:
    """What an ingest of the whole site into an empty index should report."""

    pages: int
    entries: int
    cross_posts: int
    broken: int
    galleries: int
    syndicated: int
    updates: int

    @property
    def fetched(self) -> int:
        return self.pages - self.broken

    @property
    def articles(self) -> int:
        """Documents in the index: every article page except syndicated copies (their
        canonical URL is the original's, so they fold into it)."""
        return self.pages - self.broken - self.galleries - self.syndicated


def expected_counts(spec: SiteSpec) -> ExpectedCounts:
    site = Site(spec)
    metas = [site.meta(i) for i in range(spec.articles)]
    cross = sum(m.cross_feed is not None for m in metas)
    return ExpectedCounts(
        pages=spec.articles,
        entries=spec.articles + cross,
        cross_posts=cross,
        broken=sum(m.kind == "broken" for m in metas),
        galleries=sum(m.kind == "gallery" for m in metas),
        syndicated=sum(m.kind == "syndicated" for m in metas),
        updates=sum(m.kind == "update" for m in metas),
    )


# --- serving ---------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _SiteServer

    def do_GET(self) -> None:
        site = self.server.site
        path = urlsplit(self.path).path
        status, ctype, body = 200, "text/html; charset=utf-8", b""
        if path == "/robots.txt":
            ctype, body = "text/plain", site.robots()
        elif path == "/":
            body = site.home()
        elif path.startswith("/feeds/"):
            body = self.server.feed_bytes(path)
            ctype = "application/rss+xml"
            if not body:
                status = 404
        else:
            i = site.find(path)
            if i is None or site.meta(i).kind == "broken":
                status, body = 404, b"<html><body><h1>Not found</h1></body></html>"
            else:
                body = site.page(i)
                self.server.count_page()
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        if status == 200 and self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _SiteServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, site: Site, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.site = site
        self.pages_served = 0
        self.released: int | None = None
        self._lock = threading.Lock()
        self._feeds: dict[str, bytes] = {}

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-response is normal for a crawler's target; stay quiet."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def count_page(self) -> None:
        with self._lock:
            self.pages_served += 1

    def feed_bytes(self, path: str) -> bytes:
        with self._lock:
            if path in self._feeds:
                return self._feeds[path]
            released = self.released
        match = re.fullmatch(r"/feeds/desk-(\d{3})\.xml", path)
        body = b""
        if match and int(match.group(1)) < self.site.spec.feeds:
            body = self.site.feed(int(match.group(1)), released)
        with self._lock:
            if self.released == released:
                self._feeds[path] = body
        return body

    def release(self, n: int) -> None:
        """Publish pages `0 … n-1` in the feeds from now on."""
        with self._lock:
            self.released = n
            self._feeds.clear()


def run_server(spec: SiteSpec, port: int = 0) -> None:
    """Serve until stdin closes; prints `PORT <n>` when ready and `SERVED <n>` on request
    (a line `count` on stdin) so the parent can check that no article page was fetched. A line
    `release <n>` publishes only pages `0 … n-1` in the feeds (answered with `RELEASED <n>`)."""
    server = _SiteServer(Site(spec), port)
    server.site.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"PORT {server.server_address[1]}", flush=True)
    for line in sys.stdin:
        words = line.split()
        if words == ["count"]:
            print(f"SERVED {server.pages_served}", flush=True)
        elif len(words) == 2 and words[0] == "release":
            server.release(int(words[1]))
            print(f"RELEASED {words[1]}", flush=True)
    server.shutdown()


@dataclass
class ServedSite:
    """A running site: its base URL, feed URLs and the page counter of the server."""

    site: Site
    proc: subprocess.Popen[str]

    @property
    def base_url(self) -> str:
        return self.site.base_url

    def feed_urls(self) -> list[str]:
        return [self.site.feed_url(k) for k in range(self.site.spec.feeds)]

    def pages_served(self) -> int:
        """Article and gallery pages served so far (feeds and robots.txt not counted)."""
        assert self.proc.stdin
        assert self.proc.stdout
        self.proc.stdin.write("count\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().split()
        return int(line[1])

    def release(self, n: int) -> None:
        """From now on the feeds list only pages `0 … n-1` (the site grows as `n` does)."""
        assert self.proc.stdin
        assert self.proc.stdout
        self.proc.stdin.write(f"release {n}\n")
        self.proc.stdin.flush()
        self.proc.stdout.readline()


@contextmanager
def serve(spec: SiteSpec) -> Iterator[ServedSite]:
    """Run the site in a child process on 127.0.0.1 for the duration of the block."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.site", "serve", *spec.args()],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "PORT":
            raise RuntimeError(f"site server did not start (said {line!r})")
        yield ServedSite(Site(spec, f"http://127.0.0.1:{line[1]}"), proc)
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


def spec_from_args(args: argparse.Namespace) -> SiteSpec:
    if args.spec:
        return SiteSpec(**json.loads(args.spec))
    return SiteSpec(articles=args.articles, feeds=args.feeds, seed=args.seed)


def add_spec_args(parser: argparse.ArgumentParser, articles: int = 10_000) -> None:
    parser.add_argument("--articles", type=int, default=articles)
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--spec", default=None, help="the whole SiteSpec as JSON")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.site", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve_cmd = sub.add_parser("serve", help="serve the site on 127.0.0.1")
    add_spec_args(serve_cmd)
    serve_cmd.add_argument("--port", type=int, default=0)
    stats = sub.add_parser("stats", help="print the expected counts and page sizes")
    add_spec_args(stats)
    args = parser.parse_args(argv)
    spec = spec_from_args(args)
    if args.command == "serve":
        run_server(spec, args.port)
        return 0
    counts = expected_counts(spec)
    site = Site(spec)
    sizes = [len(site.page(i)) for i in range(min(spec.articles, 200))]
    print(counts, f"mean page {sum(sizes) / len(sizes) / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
