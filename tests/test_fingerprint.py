"""Pure fingerprint functions: exact content hash, simhash and MinHash band keys.

The texts are written here; what each pair should be (same story or not) is part of the test.
"""

from __future__ import annotations

import random

from extractors.fingerprint import (
    _HASH_PARAMS,
    _PRIME,
    MIN_SHARED_BANDS,
    NUM_BANDS,
    content_hash,
    estimated_jaccard,
    fingerprint,
    hamming,
    is_near_duplicate,
    minhash,
    shared_bands,
    simhash,
    words,
)

WIRE = (
    "OSAKA (Wire) -- The regional transport board on Tuesday approved a plan to keep 14 rural "
    "bus routes running through next spring, after months of talks with the three companies "
    "that operate them. The board will pay the operators a fixed fee per kilometre instead of "
    "covering their losses, a change officials said would reward punctual service. Riders "
    "in the mountain towns north of the city had warned that a shutdown would leave elderly "
    'residents without a way to reach hospitals. "We listened to every town hall," said the '
    "board chair, Keiko Tanabe, adding that the fee would be reviewed in twelve months. The "
    "operators, which lost a combined 1.2 billion yen last year, said they would hire forty "
    "drivers before the winter timetable starts in December. Critics said the plan only "
    "delays a decision on whether smaller on-demand vans should replace the largest buses."
)

OTHER = (
    "A team of marine geologists has mapped an undersea volcano south of the Ogasawara Islands "
    "whose summit rose about forty metres in two years, according to sonar images released on "
    "Thursday. The seamount lies in a shipping lane, and the coast guard has asked vessels to "
    "keep a distance of two nautical miles while the survey ship returns for a second pass. "
    "Researchers said the growth was faster than any recorded in the area since the 1970s and "
    "that a new island could form if eruptions continue, though none is expected this year."
)


def test_content_hash_ignores_case_spacing_punctuation_and_unicode_form() -> None:
    typeset = "Tokyo’s  mayor said:\n\n“Yes.”"
    assert content_hash(typeset) == content_hash('tokyo\'s mayor said "yes"')
    assert content_hash("ﬁnal") == content_hash("final")  # NFKC folds the ligature
    assert content_hash("one story") != content_hash("another story")
    assert len(content_hash("x")) == 64


def test_words_are_unicode_aware() -> None:
    assert words("Zürich, 3 März — ÉTÉ!") == ["zürich", "3", "märz", "été"]


def test_identical_texts_have_identical_fingerprints() -> None:
    assert fingerprint(WIRE) == fingerprint(WIRE + "  ")
    fp = fingerprint(WIRE)
    assert fp.simhash is not None
    assert len(fp.simhash) == 16
    assert len(fp.bands) == NUM_BANDS
    assert len(set(fp.bands)) == NUM_BANDS  # each key carries its band number


def test_light_edits_stay_near_duplicates() -> None:
    edited = (
        WIRE.replace("OSAKA (Wire) --", "OSAKA --")
        .replace("Tuesday", "Tuesday evening")
        .replace("forty", "40")
        + " This story has been updated with comment from the operators."
    )
    a, b = fingerprint(WIRE), fingerprint(edited)
    assert a.content_hash != b.content_hash
    assert shared_bands(a.bands, b.bands) >= MIN_SHARED_BANDS
    assert is_near_duplicate(a.bands, b.bands)
    assert hamming(a.simhash or "", b.simhash or "") < 16


def test_a_trimmed_copy_stays_a_near_duplicate() -> None:
    """Papers often run the first three quarters of a wire story."""
    tokens = WIRE.split()
    trimmed = " ".join(tokens[: int(len(tokens) * 0.8)])
    assert is_near_duplicate(fingerprint(WIRE).bands, fingerprint(trimmed).bands)


def test_different_stories_are_not_near_duplicates() -> None:
    a, b = fingerprint(WIRE), fingerprint(OTHER)
    assert shared_bands(a.bands, b.bands) == 0
    assert hamming(a.simhash or "", b.simhash or "") > 16


def test_same_topic_different_story_is_not_a_near_duplicate() -> None:
    """Two reports on the same subject share vocabulary but not their sentences."""
    follow_up = (
        "Rural bus operators north of Osaka began hiring drivers on Monday, a week after the "
        "transport board agreed to pay them a fee per kilometre. Keiko Tanabe, who chairs the "
        "board, told reporters the first review of the fee would come next autumn. Several "
        "town councils asked for on-demand vans on the quietest routes, and residents said "
        "the winter timetable still leaves long gaps between morning and evening services."
    )
    assert not is_near_duplicate(fingerprint(WIRE).bands, fingerprint(follow_up).bands)


def test_random_word_edits_keep_clusters_apart_only_when_heavy() -> None:
    rng = random.Random(7)
    tokens = (WIRE + " " + OTHER).split()

    def edit(share: float) -> str:
        out = list(tokens)
        for i in rng.sample(range(len(out)), int(len(out) * share)):
            out[i] = f"w{rng.randrange(10**6)}"
        return " ".join(out)

    base = fingerprint(" ".join(tokens)).bands
    assert is_near_duplicate(base, fingerprint(edit(0.02)).bands)
    assert not is_near_duplicate(base, fingerprint(edit(0.5)).bands)


def test_short_texts_get_only_a_content_hash() -> None:
    fp = fingerprint("Read more")
    assert fp.simhash is None
    assert fp.bands == []
    assert fp.content_hash == content_hash("read more")
    assert fingerprint("").bands == []


def test_estimated_jaccard() -> None:
    assert estimated_jaccard(NUM_BANDS) == 1.0
    assert estimated_jaccard(0) == 0.0
    assert 0.6 < estimated_jaccard(MIN_SHARED_BANDS) < 0.7


def _reference_minhash(xs: list[int]) -> tuple[int, ...]:
    return tuple(min((a * x + b) % _PRIME for x in xs) for a, b in _HASH_PARAMS)


def _reference_simhash(xs: list[int]) -> int:
    return sum(1 << bit for bit in range(64) if 2 * sum(x >> bit & 1 for x in xs) > len(xs))


def test_vectorised_sketches_equal_the_plain_integer_arithmetic() -> None:
    """Signatures stored in an index must not change with the implementation: the numpy
    MinHash (64-bit lanes, Mersenne folding) and simhash equal Python's big-integer result,
    including hashes at and above the prime and at 2**64 - 1."""
    rng = random.Random(11)
    edges = [0, 1, _PRIME - 1, _PRIME, _PRIME + 1, 2**63, 2**64 - 1]
    for size in (1, 2, 7, 64, 500):
        xs = [*edges, *(rng.getrandbits(64) for _ in range(size))]
        assert minhash(xs) == _reference_minhash(xs)
        assert simhash(xs) == _reference_simhash(xs)
    assert minhash([]) == ()


def test_a_known_text_keeps_its_signature() -> None:
    """Pinned values: a change here would split every stored cluster from new articles."""
    prints = fingerprint(WIRE)
    assert prints.simhash == PINNED_SIMHASH
    assert prints.bands[:3] == PINNED_BANDS


PINNED_SIMHASH = "4919ab464aa5a450"  # as computed before the numpy version
PINNED_BANDS = ["00-78ef6e78cbd1", "01-e1cbf7faf399", "02-6f94f25a93bd"]
