"""Synthetic news corpora for search tests and the search benchmark.

`build_corpus()` makes the ~240-article test corpus: six sources in four languages, dates over
2023–2024, bylines with roles and locations, quotes with speakers, entities, wire stories
syndicated to several sources (sharing a cluster id), some undated or unclustered articles, and
hostile articles whose title, body, byline, quotes and URL carry `<script>`, `<img onerror>`
and `javascript:` payloads. It is deterministic, so tests derive their expected results from
the same list (`expected_ids`).

`article_docs(n)` makes plain `_source` dicts fast (no validation) for large corpora: the
20,000-article export test and the 100,000-article benchmark; `bulk_load` indexes them in one
bulk stream and refreshes once.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

from newsdesk.es_client import connect
from newsdesk.index import ensure_index
from newsdesk.models import Article, Author, Dateline, Entity, Quote, Section, Status
from newsdesk.settings import Settings
from newsdesk.urls import article_id
from newsdesk.writer import write_articles

SOURCES = [
    ("harbour-times", "en", "harbourtimes.example"),
    ("metro-daily", "en", "metrodaily.example"),
    ("global-wire", "en", "globalwire.example"),
    ("le-quotidien", "fr", "lequotidien.example"),
    ("tageblatt-nord", "de", "tageblatt.example"),
    ("diario-sur", "es", "diariosur.example"),
]
AUTHORS = [
    ("Maya Lindqvist", "Port correspondent", "Rotterdam"),
    ("Kenji Watanabe", "Tokyo bureau chief", "Tokyo"),
    ("Amara Okafor", "Climate reporter", "Lagos"),
    ("Lucas Moreau", "Political editor", "Paris"),
    ("Greta Hoffmann", "Business reporter", "Hamburg"),
    ("Sofia Ramirez", "Health reporter", "Madrid"),
    ("Daniel Price", "Sports writer", "London"),
    ("Priya Nair", "Technology reporter", "Bengaluru"),
]
TOPICS: dict[str, dict[str, list[str]]] = {
    "port": {
        "words": [
            "harbour",
            "crane",
            "container",
            "shipping",
            "freight",
            "dock",
            "berth",
            "cargo",
            "terminal",
            "vessel",
            "automation",
            "strike",
            "tariff",
            "logistics",
            "quay",
        ],
        "people": ["Ingrid Vos", "Tomas Berg"],
        "orgs": ["Port Authority", "Dockworkers Union"],
        "places": ["Rotterdam", "Hamburg"],
        "titles": ["Port {w} talks stall", "Dockers weigh {w} plan", "{W} delays hit harbour"],
    },
    "climate": {
        "words": [
            "flood",
            "rainfall",
            "drought",
            "heatwave",
            "emissions",
            "levee",
            "coastline",
            "storm",
            "river",
            "adaptation",
            "carbon",
            "glacier",
            "sea",
        ],
        "people": ["Amina Diallo", "Hugo Laurent"],
        "orgs": ["Weather Service", "Green Future Fund"],
        "places": ["Lagos", "Venice"],
        "titles": [
            "{W} warnings for coastal towns",
            "City plans {w} defences",
            "Record {w} season",
        ],
    },
    "politics": {
        "words": [
            "election",
            "parliament",
            "coalition",
            "budget",
            "minister",
            "vote",
            "reform",
            "senate",
            "ballot",
            "campaign",
            "mandate",
            "cabinet",
            "policy",
        ],
        "people": ["Kenji Sato", "Claire Dubois"],
        "orgs": ["National Assembly", "Reform Party"],
        "places": ["Paris", "Tokyo"],
        "titles": ["{W} row deepens", "Minister defends {w}", "Parliament backs {w} deal"],
    },
    "health": {
        "words": [
            "hospital",
            "vaccine",
            "clinic",
            "nurses",
            "patients",
            "waiting",
            "doctors",
            "outbreak",
            "ward",
            "funding",
            "pharmacy",
            "screening",
        ],
        "people": ["Elena Ortiz", "Marcus Feld"],
        "orgs": ["Health Ministry", "Nurses Council"],
        "places": ["Madrid", "Berlin"],
        "titles": ["{W} queues grow", "Clinics report {w} shortage", "New {w} rules announced"],
    },
    "tech": {
        "words": [
            "software",
            "chip",
            "startup",
            "data",
            "privacy",
            "cloud",
            "robot",
            "algorithm",
            "network",
            "battery",
            "satellite",
            "encryption",
            "platform",
        ],
        "people": ["Priyanka Rao", "Jonas Weber"],
        "orgs": ["Orbital Systems", "Data Protection Board"],
        "places": ["Bengaluru", "Berlin"],
        "titles": ["{W} firm raises funds", "Regulator probes {w} deal", "{W} outage hits users"],
    },
}
FILLER = [
    "the",
    "a",
    "of",
    "in",
    "on",
    "and",
    "with",
    "for",
    "as",
    "said",
    "after",
    "while",
    "over",
    "new",
    "local",
    "city",
    "officials",
]
VERBS = ["said", "told reporters", "warned", "added", "insisted"]
START = datetime(2023, 1, 1, 6, 0, tzinfo=UTC)
SPAN_DAYS = 729

HOSTILE_TITLE = '<script>alert("title")</script> Harbour <img src=x onerror=alert(1)> crane row'
HOSTILE_BODY = (
    'Dock workers said <script>document.title="pwned"</script> the harbour crane '
    "<img src=x onerror=alert(2)> was unsafe. Read more at javascript:alert(3) today."
)
HOSTILE_AUTHOR = '<img src=x onerror=alert("byline")>Eve Mallory'
HOSTILE_QUOTE = "<b onmouseover=alert(4)>We will not move the harbour crane</b>"
HOSTILE_SPEAKER = "<script>alert(5)</script>Ingrid Vos"


def _sentence(rng: random.Random, words: list[str], n: int) -> str:
    pick = [rng.choice(words if rng.random() < 0.55 else FILLER) for _ in range(n)]
    return " ".join(pick).capitalize() + "."


def _text(rng: random.Random, topic: dict[str, list[str]], sentences: int) -> list[str]:
    return [_sentence(rng, topic["words"], rng.randint(8, 16)) for _ in range(sentences)]


def _article(
    rng: random.Random,
    n: int,
    source: tuple[str, str, str],
    topic_name: str,
    when: datetime | None,
    cluster_id: str | None,
    title: str | None = None,
    body_paragraphs: list[str] | None = None,
) -> Article:
    topic = TOPICS[topic_name]
    name, lang, host = source
    url = f"https://{host}/{topic_name}/{n}"
    word = rng.choice(topic["words"])
    title = title or rng.choice(topic["titles"]).format(w=word, W=word.capitalize())
    paragraphs = body_paragraphs or [
        " ".join(_text(rng, topic, 3)) for _ in range(rng.randint(2, 4))
    ]
    speaker = rng.choice(topic["people"])
    quotes = [
        Quote(
            text=_sentence(rng, topic["words"], 9),
            speaker=speaker,
            speaker_kind="person",
            verb=rng.choice(VERBS),
            paragraph=1,
        )
    ]
    if rng.random() < 0.3:
        quotes = []
    author = AUTHORS[n % len(AUTHORS)]
    place = rng.choice(topic["places"])
    return Article(
        id=article_id(url),
        url=url,
        source_url=f"https://{host}/",
        source=name,
        site_name=name.replace("-", " ").title(),
        title=title,
        description=paragraphs[0][:160],
        lede=paragraphs[0],
        body="\n\n".join(paragraphs),
        sections=[Section(heading=None, paragraphs=paragraphs)],
        word_count=sum(len(p.split()) for p in paragraphs),
        reading_time_minutes=1,
        authors=[Author(name=author[0], role=author[1], location=author[2])],
        dateline=Dateline(place=place.upper(), raw=f"{place.upper()} --"),
        published_at=when,
        language=lang,
        keywords=[topic_name, word],
        quotes=quotes,
        entities=[
            Entity(name=speaker, kind="person", count=2),
            Entity(name=rng.choice(topic["orgs"]), kind="organization"),
            Entity(name=place, kind="place"),
        ],
        cluster_id=cluster_id,
        fetched_at=when,
    )


def build_corpus(seed: int = 6) -> list[Article]:
    """The deterministic test corpus (about 240 articles)."""
    rng = random.Random(seed)
    topics = list(TOPICS)
    out: list[Article] = []
    for n in range(180):
        when = None if n % 37 == 5 else START + timedelta(days=rng.randint(0, SPAN_DAYS))
        cluster = f"solo-{n}" if n % 2 == 0 else None
        out.append(
            _article(rng, n, SOURCES[n % len(SOURCES)], topics[n % len(topics)], when, cluster)
        )
    for story in range(20):
        topic = topics[story % len(topics)]
        when = START + timedelta(days=rng.randint(0, SPAN_DAYS))
        wire = _article(rng, 1000 + story, SOURCES[2], topic, when, f"wire-{story}")
        out.append(wire)
        paragraphs = wire.body.split("\n\n")
        for copy in range(1 + story % 3):
            src = SOURCES[(story + copy) % 2] if copy < 2 else SOURCES[5]
            out.append(
                _article(
                    rng,
                    2000 + story * 10 + copy,
                    src,
                    topic,
                    when + timedelta(hours=2 + copy),
                    f"wire-{story}",
                    title=wire.title,
                    body_paragraphs=paragraphs,
                )
            )
    for n in range(6):
        a = _article(rng, 3000 + n, SOURCES[n % 3], "port", START + timedelta(days=400 + n), None)
        out.append(
            a.model_copy(
                update={
                    "title": HOSTILE_TITLE,
                    "body": HOSTILE_BODY,
                    "lede": HOSTILE_BODY,
                    "description": HOSTILE_BODY[:120],
                    "sections": [Section(heading="<h1>injected</h1>", paragraphs=[HOSTILE_BODY])],
                    "authors": [Author(name=HOSTILE_AUTHOR, location="<i>Nowhere</i>")],
                    "quotes": [Quote(text=HOSTILE_QUOTE, speaker=HOSTILE_SPEAKER, paragraph=0)],
                    "url": "javascript:alert(6)" if n == 0 else a.url,
                    "canonical_url": 'javascript:alert("canonical")',
                    "raw_location": "javascript:alert(7)",
                    "keywords": ["<svg onload=alert(8)>"],
                }
            )
        )
    return out


def expected_ids(corpus: Iterable[Article], keep: Callable[[Article], bool]) -> set[str]:
    return {a.id for a in corpus if keep(a)}


def story_count(corpus: Iterable[Article], keep: Callable[[Article], bool]) -> int:
    """Stories among the kept articles: one per cluster, one per unclustered article."""
    kept = [a for a in corpus if keep(a)]
    return len({a.cluster_id for a in kept if a.cluster_id}) + sum(
        1 for a in kept if not a.cluster_id
    )


# --- Large, lean corpora -----------------------------------------------------------------


def article_docs(
    n: int, *, seed: int = 1, rich: bool = True, prefix: str = "gen"
) -> Iterator[dict[str, Any]]:
    """`n` article `_source` dicts (valid for the index mapping), built without validation.
    `rich=False` gives minimal documents (id, URL, source, title, body, date) for bulk tests."""
    rng = random.Random(seed)
    topics = list(TOPICS.values())
    topic_names = list(TOPICS)
    for i in range(n):
        t = i % len(topics)
        topic = topics[t]
        name, lang, host = SOURCES[i % len(SOURCES)]
        url = f"https://{host}/{prefix}/{i}"
        doc_id = f"{prefix}-{i:08d}"
        when = START + timedelta(minutes=rng.randint(0, SPAN_DAYS * 1440))
        word = rng.choice(topic["words"])
        title = rng.choice(topic["titles"]).format(w=word, W=word.capitalize())
        doc: dict[str, Any] = {
            "id": doc_id,
            "url": url,
            "source_url": f"https://{host}/",
            "source": name,
            "title": title,
            "published_at": when.isoformat(),
            "language": lang,
        }
        if not rich:
            doc["body"] = f"{title}. Story {i} of the {topic_names[t]} desk."
            yield doc
            continue
        body = " ".join(_sentence(rng, topic["words"], rng.randint(8, 16)) for _ in range(10))
        author = AUTHORS[rng.randrange(len(AUTHORS))]
        speaker = rng.choice(topic["people"])
        doc.update(
            body=body,
            lede=body[:200],
            word_count=len(body.split()),
            authors=[{"name": author[0], "role": author[1], "location": author[2]}],
            quotes=[
                {"text": _sentence(rng, topic["words"], 9), "speaker": speaker, "paragraph": 1}
            ],
            entities=[
                {"name": speaker, "kind": "person", "count": 2},
                {"name": rng.choice(topic["orgs"]), "kind": "organization", "count": 1},
                {"name": rng.choice(topic["places"]), "kind": "place", "count": 1},
            ],
            cluster_id=f"{prefix}-c{i - 1 if i % 4 == 3 else i}",
        )
        yield doc


def bulk_load(client: Elasticsearch, index: str, docs: Iterable[dict[str, Any]]) -> int:
    """Index `docs` in one bulk stream with refresh off, then refresh once; returns the count."""
    client.indices.put_settings(index=index, settings={"index": {"refresh_interval": "-1"}})
    loaded = 0
    try:
        actions = ({"_index": index, "_id": d["id"], "_source": d} for d in docs)
        for ok, _item in streaming_bulk(
            client, actions, chunk_size=2000, max_chunk_bytes=20 * 1024 * 1024, raise_on_error=True
        ):
            loaded += int(ok)
    finally:
        client.indices.put_settings(index=index, settings={"index": {"refresh_interval": "1s"}})
    client.indices.refresh(index=index)
    return loaded


# --- An indexed corpus for a test module ---------------------------------------------------


@dataclass
class CorpusIndex:
    settings: Settings
    client: Elasticsearch
    articles: list[Article]

    def by_id(self) -> dict[str, Article]:
        return {a.id: a for a in self.articles}


def scratch_settings(es_url: str, data_dir: Path, label: str = "corpus") -> Settings:
    return Settings(
        es_url=es_url,
        index_alias=f"t-{label}-{uuid.uuid4().hex[:10]}",
        data_dir=data_dir,
        allow_hosts=["127.0.0.1"],
    )


def drop_index(client: Elasticsearch, settings: Settings) -> None:
    client.options(ignore_status=404).indices.delete(index=settings.index_name)
    client.options(ignore_status=404).indices.delete_index_template(
        name=f"{settings.index_alias}-template"
    )


@contextmanager
def indexed_corpus(es_url: str, articles: list[Article] | None = None) -> Iterator[CorpusIndex]:
    """`articles` (default `build_corpus()`) in an index of their own, removed afterwards."""
    data_dir = Path(tempfile.mkdtemp(prefix="newsdesk-corpus-"))
    settings = scratch_settings(es_url, data_dir)
    client = connect(settings)
    corpus = build_corpus() if articles is None else articles
    try:
        ensure_index(client, settings)
        outcomes = write_articles(client, settings, corpus)
        failed = [o for o in outcomes if o.status is not Status.INDEXED]
        assert not failed, failed[:3]
        client.indices.refresh(index=settings.index_alias)
        yield CorpusIndex(settings=settings, client=client, articles=corpus)
    finally:
        drop_index(client, settings)
        client.close()
        shutil.rmtree(data_dir, ignore_errors=True)
