"""Near-duplicate clusters: give each new article the cluster id of the story it repeats.

The fingerprints come from `extractors.fingerprint` (content hash, simhash, MinHash LSH band
keys). Before a batch is written, one `msearch` asks the articles index, for each article, for
the few documents that share its content hash or most of its band keys (a `bool` of `term`
queries, so a document scores higher the more bands it shares). The articles of the batch are
candidates for the ones after them too. The best candidate wins:

1. the same content hash (an exact copy), else
2. the most shared bands, at least `MIN_SHARED_BANDS` of 16 (a near copy), then the smallest
   simhash distance, then the smallest cluster id (so the choice does not depend on order).

The article takes that candidate's `cluster_id`; with no candidate it starts a cluster of its
own whose id is its own id: the cluster id is the id of the first-seen article of the story.
Clusters are single-link (A ~ B and B ~ C puts C with A), and two runs writing the first two
copies of one story at the same moment can start two clusters; both are acceptable for
collapsing search results. `provenance["cluster_id"]` says why an article got its cluster.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from extractors.fingerprint import MIN_SHARED_BANDS, NUM_BANDS, hamming
from newsdesk.models import Article
from newsdesk.settings import Settings

CANDIDATES_PER_ARTICLE = 10
_SOURCE = ["id", "cluster_id", "content_hash", "simhash", "simhash_bands"]


@dataclass(frozen=True)
class Candidate:
    id: str
    cluster_id: str
    content_hash: str | None
    simhash: str | None
    bands: frozenset[str]

    @classmethod
    def of(cls, article: Article) -> Candidate:
        return cls(
            id=article.id,
            cluster_id=article.cluster_id or article.id,
            content_hash=article.content_hash,
            simhash=article.simhash,
            bands=frozenset(article.simhash_bands),
        )


def _query(article: Article) -> dict[str, Any] | None:
    should: list[dict[str, Any]] = [
        {"term": {"simhash_bands": band}} for band in article.simhash_bands
    ]
    if article.content_hash:
        should.append({"term": {"content_hash": {"value": article.content_hash, "boost": 100}}})
    if not should:
        return None
    return {
        "size": CANDIDATES_PER_ARTICLE,
        "_source": _SOURCE,
        "query": {
            "bool": {
                "should": should,
                "minimum_should_match": 1,
                "must_not": [{"ids": {"values": [article.id]}}],
            }
        },
    }


def find_candidates(
    client: Elasticsearch, settings: Settings, articles: list[Article]
) -> list[list[Candidate]]:
    """For each article, indexed documents that may be copies of it (one round trip)."""
    queries = [_query(a) for a in articles]
    searches: list[dict[str, Any]] = []
    for query in queries:
        if query is not None:
            searches.extend([{"index": settings.index_alias}, query])
    if not searches:
        return [[] for _ in articles]
    try:
        resp = client.msearch(searches=searches)
    except NotFoundError:
        return [[] for _ in articles]
    answers = iter(resp["responses"])
    found: list[list[Candidate]] = []
    for query in queries:
        if query is None:
            found.append([])
            continue
        answer = next(answers)
        hits = answer.get("hits", {}).get("hits", []) if "error" not in answer else []
        found.append(
            [
                Candidate(
                    id=hit["_id"],
                    cluster_id=hit["_source"].get("cluster_id") or hit["_id"],
                    content_hash=hit["_source"].get("content_hash"),
                    simhash=hit["_source"].get("simhash"),
                    bands=frozenset(hit["_source"].get("simhash_bands") or ()),
                )
                for hit in hits
            ]
        )
    return found


def best_match(article: Article, candidates: list[Candidate]) -> tuple[Candidate, str] | None:
    """The candidate `article` is a copy of, with the reason, or None."""
    bands = set(article.simhash_bands)
    scored: list[tuple[tuple[int, int, int, str], Candidate, str]] = []
    for c in candidates:
        if c.id == article.id:
            continue
        exact = bool(article.content_hash) and c.content_hash == article.content_hash
        shared = NUM_BANDS if exact else len(bands & c.bands)
        if shared < MIN_SHARED_BANDS:
            continue
        distance = hamming(article.simhash, c.simhash) if article.simhash and c.simhash else 64
        if exact:
            scored.append(((2, NUM_BANDS, -distance, _inverse(c.cluster_id)), c, "exact"))
        else:
            why = f"near, {shared}/{NUM_BANDS} bands, simhash distance {distance}"
            scored.append(((1, shared, -distance, _inverse(c.cluster_id)), c, why))
    if not scored:
        return None
    _, chosen, why = max(scored, key=lambda s: s[0])
    return chosen, why


def _inverse(text: str) -> str:
    """Sorts descending where `text` sorts ascending, so `max` prefers the smallest id."""
    return "".join(chr(0x10FFFF - ord(ch)) for ch in text)


def assign_clusters(client: Elasticsearch, settings: Settings, articles: list[Article]) -> None:
    """Set `cluster_id` on every article of the batch, in place."""
    if not articles:
        return
    found = find_candidates(client, settings, articles)
    earlier: dict[str, list[tuple[int, Candidate]]] = defaultdict(list)
    for n, (article, candidates) in enumerate(zip(articles, found, strict=True)):
        match = best_match(article, [*candidates, *_sharing(earlier, article)])
        if match is None:
            article.cluster_id = article.id
            article.provenance["cluster_id"] = "first of its story"
        else:
            chosen, why = match
            article.cluster_id = chosen.cluster_id
            article.provenance["cluster_id"] = f"{why} copy of {chosen.id}"
        mine = Candidate.of(article)
        for key in _keys(article):
            earlier[key].append((n, mine))


def _keys(article: Article) -> list[str]:
    return [*article.simhash_bands, *([f"#{article.content_hash}"] if article.content_hash else [])]


def _sharing(earlier: dict[str, list[tuple[int, Candidate]]], article: Article) -> list[Candidate]:
    """The batch's earlier articles that share a band or the content hash with `article`, in
    batch order: the only ones `best_match` can choose, found without comparing all pairs."""
    seen = {n: c for key in _keys(article) for n, c in earlier.get(key, ())}
    return [seen[n] for n in sorted(seen)]
