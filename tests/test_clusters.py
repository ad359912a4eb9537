"""In-batch near-duplicate matching: looking only at the batch's articles that share a band
or the content hash chooses exactly what comparing every pair chose."""

from __future__ import annotations

import random
from collections import defaultdict

from extractors.fingerprint import fingerprint
from newsdesk.clusters import Candidate, _keys, _sharing, best_match
from newsdesk.models import Article
from tests.test_fingerprint import OTHER, WIRE


def _article(n: int, text: str) -> Article:
    prints = fingerprint(text)
    return Article.model_construct(
        id=f"a{n:03d}",
        cluster_id=None,
        content_hash=prints.content_hash,
        simhash=prints.simhash,
        simhash_bands=prints.bands,
    )


def _variant(rng: random.Random, text: str) -> str:
    words = text.split()
    for _ in range(rng.choice([0, 0, 2, 8, 30])):
        words[rng.randrange(len(words))] = rng.choice(["harbour", "ferry", "council", "vote"])
    return " ".join(words)


def test_the_band_index_finds_what_all_pairs_find() -> None:
    rng = random.Random(4)
    batch = [_article(n, _variant(rng, rng.choice([WIRE, OTHER]))) for n in range(60)]
    everyone: list[Candidate] = []
    earlier: dict[str, list[tuple[int, Candidate]]] = defaultdict(list)
    matched = 0
    for n, article in enumerate(batch):
        want = best_match(article, everyone)
        got = best_match(article, _sharing(earlier, article))
        assert got == want
        matched += want is not None
        article.cluster_id = want[0].cluster_id if want else article.id
        mine = Candidate.of(article)
        everyone.append(mine)
        for key in _keys(article):
            earlier[key].append((n, mine))
    assert 0 < matched < len(batch) - 1
