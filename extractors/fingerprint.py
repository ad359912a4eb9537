"""Content fingerprints: an exact content hash and a near-duplicate sketch, from text alone.

Syndication shows up two ways. The same text at two URLs is an *exact* duplicate: the
`content_hash` (SHA-256 of the normalised words) is equal. The same wire story with a
different dateline, a trimmed last paragraph or an editor's note is a *near* duplicate: most of
its word 3-shingles are shared, i.e. their Jaccard similarity is high.

Near duplicates are found with MinHash and locality-sensitive hashing (LSH), so a new article
is compared with a handful of candidates instead of the whole index:

* the body is normalised (NFKC, case-folded, words only) and cut into overlapping 3-word
  shingles, each hashed to 64 bits;
* a MinHash signature of 64 values is taken (64 fixed universal hash functions, each keeping
  its minimum over the shingles); two signatures agree in one position with probability equal
  to the Jaccard similarity of the two shingle sets;
* the signature is cut into 16 bands of 4 values and each band is hashed to a keyword,
  `"<band>-<hash>"`. These are the `simhash_bands` stored on the article: a keyword `terms`
  query on them finds every earlier article that shares at least one band (a candidate);
* a candidate is a near duplicate when at least `MIN_SHARED_BANDS` of the 16 bands are equal.
  A band matches with probability J⁴, so that test passes for ~98% of pairs at J = 0.8, ~73% at
  0.7, ~7% at 0.5 and ~0.05% at 0.3: light edits stay together, different stories apart.

`newsdesk.clusters` runs that lookup against Elasticsearch and gives an article the cluster id
of its nearest earlier near duplicate, or its own id when there is none.

A 64-bit Charikar `simhash` over the same shingles is stored too (16 hex digits): it ranks
near-duplicate candidates (smallest Hamming distance first) and is a compact similarity value
for tools that expect one. Banding a simhash needs Hamming distance ≤ 3 to guarantee a shared
band, which light edits exceed (a 10% edit moves ~7 bits), hence MinHash for the lookup.
"""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

SHINGLE_WORDS = 3
NUM_BANDS = 16
ROWS_PER_BAND = 4
NUM_HASHES = NUM_BANDS * ROWS_PER_BAND
MIN_SHARED_BANDS = 3
MIN_WORDS = 8
"""Below this many words a sketch says little; such texts only get an exact content hash."""

_PRIME = (1 << 61) - 1
_SEED = 0x6E657773  # fixed: signatures must be comparable across processes and releases
_rng = random.Random(_SEED)
_HASH_PARAMS: tuple[tuple[int, int], ...] = tuple(
    (_rng.randrange(1, _PRIME), _rng.randrange(0, _PRIME)) for _ in range(NUM_HASHES)
)
del _rng

_WORD = re.compile(r"\w+")
_FOLD = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


@dataclass(frozen=True)
class Fingerprint:
    """What the index stores about a text for duplicate detection."""

    content_hash: str
    simhash: str | None = None
    bands: list[str] = field(default_factory=list)


def words(text: str) -> list[str]:
    """The text's words, Unicode-normalised and case-folded; punctuation and spacing dropped."""
    folded = unicodedata.normalize("NFKC", text).translate(_FOLD).casefold()
    return _WORD.findall(folded)


def normalise_text(text: str) -> str:
    return " ".join(words(text))


def content_hash(text: str) -> str:
    """SHA-256 of the normalised words: equal for texts that differ only in case, spacing,
    punctuation or Unicode form."""
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


def _hash64(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def shingles(tokens: Sequence[str], size: int = SHINGLE_WORDS) -> set[int]:
    """64-bit hashes of the overlapping `size`-word runs (the whole text when shorter)."""
    if not tokens:
        return set()
    if len(tokens) <= size:
        return {_hash64(" ".join(tokens).encode("utf-8"))}
    return {
        _hash64(" ".join(tokens[i : i + size]).encode("utf-8"))
        for i in range(len(tokens) - size + 1)
    }


def simhash(features: Iterable[int]) -> int:
    """Charikar's simhash of 64-bit feature hashes (all weighted alike)."""
    counts = [0] * 64
    total = 0
    for feature in features:
        total += 1
        for bit in range(64):
            if feature >> bit & 1:
                counts[bit] += 1
    value = 0
    for bit, ones in enumerate(counts):
        if 2 * ones > total:
            value |= 1 << bit
    return value


def minhash(features: Iterable[int]) -> tuple[int, ...]:
    """The MinHash signature: for each fixed hash function, its minimum over `features`."""
    xs = list(features)
    if not xs:
        return ()
    return tuple(min([(a * x + b) % _PRIME for x in xs]) for a, b in _HASH_PARAMS)


def band_keys(signature: Sequence[int]) -> list[str]:
    """One keyword per band of `ROWS_PER_BAND` signature values: `"<band>-<12 hex digits>"`."""
    if len(signature) != NUM_HASHES:
        return []
    keys = []
    for band in range(NUM_BANDS):
        rows = signature[band * ROWS_PER_BAND : (band + 1) * ROWS_PER_BAND]
        data = b"".join(v.to_bytes(8, "big") for v in rows)
        keys.append(f"{band:02d}-{hashlib.blake2b(data, digest_size=6).hexdigest()}")
    return keys


def fingerprint(text: str) -> Fingerprint:
    """Content hash, simhash and LSH band keys of `text` (no sketch for very short texts)."""
    tokens = words(text)
    digest = hashlib.sha256(" ".join(tokens).encode("utf-8")).hexdigest()
    if len(tokens) < MIN_WORDS:
        return Fingerprint(content_hash=digest)
    features = shingles(tokens)
    return Fingerprint(
        content_hash=digest,
        simhash=f"{simhash(features):016x}",
        bands=band_keys(minhash(features)),
    )


def hamming(a: str, b: str) -> int:
    """Bits that differ between two hex simhashes."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def shared_bands(a: Iterable[str], b: Iterable[str]) -> int:
    return len(set(a) & set(b))


def is_near_duplicate(a: Iterable[str], b: Iterable[str]) -> bool:
    """True when two band-key lists share enough bands to call the texts the same story."""
    return shared_bands(a, b) >= MIN_SHARED_BANDS


def estimated_jaccard(shared: int) -> float:
    """The Jaccard similarity at which `shared` of the bands would be expected to match."""
    return float((max(0, min(shared, NUM_BANDS)) / NUM_BANDS) ** (1 / ROWS_PER_BAND))
