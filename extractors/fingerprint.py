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

MinHash and simhash are computed with numpy over all shingles at once (64 hash functions ×
~1,000 shingles a page: 25 ms a page in Python loops, under 0.5 ms here). The arithmetic is
the same modulo the Mersenne prime 2⁶¹−1, done exactly in 64-bit lanes, so signatures are
unchanged.
"""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

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
_A = np.array([a for a, _ in _HASH_PARAMS], dtype=np.uint64)[:, None]
_B = np.array([b for _, b in _HASH_PARAMS], dtype=np.uint64)[:, None]
_P = np.uint64(_PRIME)
_LOW32 = np.uint64(0xFFFFFFFF)
_LOW29 = np.uint64((1 << 29) - 1)
_U3, _U29, _U32, _U61 = (np.uint64(n) for n in (3, 29, 32, 61))
_A_HI, _A_LO = _A >> _U32, _A & _LOW32
_BITS = np.arange(64, dtype=np.uint64)

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
    xs = np.fromiter(features, dtype=np.uint64)
    if not len(xs):
        return 0
    ones = ((xs[:, None] >> _BITS) & np.uint64(1)).sum(axis=0)
    value = 0
    for bit in np.flatnonzero(2 * ones > len(xs)).tolist():
        value |= 1 << bit
    return value


def _mod_p(v: np.ndarray) -> np.ndarray:
    """`v` mod 2⁶¹−1 for any 64-bit `v` (one fold, one conditional subtraction)."""
    v = (v & _P) + (v >> _U61)
    return np.where(v >= _P, v - _P, v)


def minhash(features: Iterable[int]) -> tuple[int, ...]:
    """The MinHash signature: for each fixed hash function (a·x + b mod 2⁶¹−1), its minimum
    over `features`.

    a·x + b is computed for all functions and features at once without 128-bit integers: x is
    reduced below 2⁶¹, a and x are split into 32-bit halves, and each partial product is folded
    with 2⁶¹ ≡ 1 (so 2⁶⁴ ≡ 8); the sum of the folded parts stays below 2⁶³."""
    xs = np.fromiter(features, dtype=np.uint64)
    if not len(xs):
        return ()
    xs = _mod_p(xs)
    x_hi, x_lo = (xs >> _U32)[None, :], (xs & _LOW32)[None, :]
    low = _A_LO * x_lo  # < 2⁶⁴
    total = low & _P
    low >>= _U61
    total += low  # < 2⁶¹ + 8
    mid = _A_HI * x_lo
    mid += _A_LO * x_hi  # < 2⁶², weighs 2³²: its top bits above 29 weigh 2⁶¹ ≡ 1
    total += mid >> _U29
    mid &= _LOW29
    mid <<= _U32
    total += mid  # + < 2⁶¹
    high = _A_HI * x_hi  # < 2⁵⁸, weighs 2⁶⁴ ≡ 8
    high <<= _U3
    total += high
    total += _B  # < 4·2⁶¹ + 2³³ in all
    value = total & _P
    total >>= _U61
    value += total
    value[value >= _P] -= _P
    return tuple(value.min(axis=1).tolist())


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
