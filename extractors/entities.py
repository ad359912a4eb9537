"""People, organisations and places mentioned in an article, without a downloaded model.

The default extractor ("rules") reads capitalised runs ("President Donald Trump", "U.S.
Congressional Research Service", "Japan-U.S.") and decides what each one is, in this order:

1. a place from the gazetteer (countries, US states, continents, regions, big cities; aliases
   such as "U.S." → "United States"), or a run followed by ", <state or country>";
2. an organisation when the run ends in an organisation word (Service, Forces, Ministry, Inc.,
   University, Party …), or is an acronym (ASEAN, NATO, TPP) that the article does not define as a
   common noun ("free trade agreement (FTA)");
3. a place when it ends in a geographic word (Peninsula, Ocean, River, Tower, Airport …);
4. a person after a title or honorific ("Prime Minister Shinzo Abe", "Ms. Doe"), or a run of two
   to four name words with some evidence: a known given name, a role noun or speech verb beside it
   ("spokeswoman Jane Doe", "said Jane Doe"), or its last word used alone elsewhere in the article.

Single words are resolved after that pass: a surname or first name of a person found in the
article counts toward that person ("Abe" → "Shinzo Abe"), otherwise a gazetteer place, otherwise
an organisation when written "the X", otherwise a person only when a speech verb follows. Words
that start a sentence ("However", "Those", "Now") are dropped when they are function words or are
used in lower case elsewhere in the text; demonyms ("Japanese"), months and weekdays never count.
Hyphen compounds count each part that resolves ("Japan-U.S." → Japan and United States).

Other extractors plug in behind `EntityExtractor`; `get_extractor("spacy:en_core_web_sm")` returns
the spaCy adapter for users who have installed a model.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from extractors import gazetteer
from extractors.names import (
    CONNECTORS,
    HONORIFICS,
    MONTHS,
    ROLE_NOUNS,
    SPEECH_VERBS,
    WEEKDAYS,
    PersonIndex,
    Token,
    is_name_word,
    parse_title,
    tokenize,
    wordset,
)
from newsdesk.errors import ConfigError
from newsdesk.models import Entity

Kind = Literal["person", "organization", "place"]


class EntityExtractor(Protocol):
    """Anything that turns body paragraphs into merged, counted entities."""

    def __call__(self, paragraphs: list[str]) -> list[Entity]: ...


ORG_CUES = wordset(
    """
    Service Services Forces Force Ministry Agency Inc. Inc Corp. Corp Corporation Co. Company
    Ltd. Ltd LLC PLC GmbH AG University College School Institute Council Party Association Bank
    Group Committee Commission Department Office Bureau Court Foundation Organization Organisation
    Union Federation League Alliance Assembly Parliament Congress Senate Cabinet Board Authority
    Army Navy Guard Police Times Post News Journal Herald Tribune Gazette Network Airlines
    Airways Motors Industries Holdings Partners Technologies Systems Society Academy Museum Club
    FC Fund Reserve Exchange Laboratory Laboratories Labs Studios Records Media Secretariat Chamber
    House Tribunal Nations Coalition Movement Front Brigade Brigades Corps Command Institution
    Commission Conference Forum Ministerium Partei Verband Universität Stiftung Amt Gericht Rat
    Kommission Bundestag Bundesrat Bundeswehr Universidad Universitat Université Ministerio
    Ayuntamiento Gobierno Partido Junta Asociación Federación Fundación Instituto Banco Comisión
    Consejo Ministère Conseil Parti Banque Agence Administration Networks Rail Railways
    """
)
ORG_SINGLES = wordset(
    "Congress Parliament Senate Bundestag Bundesrat Pentagon Kremlin Knesset Duma Interpol"
)
PLACE_CUES = wordset(
    """
    Peninsula Ocean Oceans Sea River Island Islands Mountain Mountains Mount Bay Gulf Strait
    Lake Valley County Province Prefecture Region District Airport Tower Square Street Avenue
    Road Bridge Park Stadium Palace Beach Coast Desert Canal Harbor Harbour Station Castle
    Cathedral Temple Shrine Mosque Plaza Hall Straße Platz Lakes Route Highway
    """
)
_ACRONYM_STOP = wordset(
    """
    OK TV AM PM AD BC ID PS FAQ USB PDF GDP CEO CFO COO CTO CEOs MP MPs VIP HIV AIDS DNA
    II III IV VI VII VIII IX XI XII OMG LOL ET PT GMT UTC EST PST CET AI IT
    """
)
_ACRONYM_RE = re.compile(r"[A-Z][A-Z&]{1,7}|(?:[A-Z]\.){2,4}")
_DEFINED_RE = re.compile(r"\(([A-Z]{2,8})\)")
_SPEECH_AFTER = SPEECH_VERBS | {"says", "according"}
_BIG_CITY = 1_000_000
_ROLE_SUFFIXES = ("ist", "man", "woman", "person", "er", "or", "ant", "ent", "ian")
# Geographic words that lead a name: "Firth of Clyde", "Lake Michigan", "Mount Fuji".
PLACE_HEADS = wordset("Gulf Bay Firth Isle Lake Mount Cape Strait Sea Port Fort Loch Glen")
_GERMAN_MARKERS = wordset(
    "der die das und ist nicht mit sich auf für den dem des ein eine von zu im"
)
# "in Dunmore", "east of Dunmore": an unknown single name after these is a place.
_LOCATIVE = wordset("in near outside around across")
_COMPASS = wordset("north south east west northeast northwest southeast southwest")
_OF = wordset("of for de del des der du für")
_DETERMINERS = wordset(
    "the a an der die das den dem des ein eine el la los las le les un une il lo"
)
# "Marlene Two Rivers, natural resources director for one of the tribes, said …"
_APPOSITION_SAID_RE = re.compile(
    r"\s*,\s[^,.;“”\"]{1,100},\s(?:" + "|".join(sorted(SPEECH_VERBS)) + r")\b"
)


@functools.lru_cache(maxsize=16384)
def _is_acronym(word: str) -> bool:
    """ "ASEAN", "TPP", "U.N."; not shouted words ("ACCIDENT", "BY") or Roman numerals."""
    return (
        _ACRONYM_RE.fullmatch(word) is not None
        and word not in _ACRONYM_STOP
        and (len(word) <= 5 or "." in word)
        and word.lower() not in gazetteer.function_words()
    )


@functools.lru_cache(maxsize=16384)
def _runnable_word(word: str) -> bool:
    """A capitalised word that may be part of a run (cached: names repeat)."""
    if "-" in word:
        return any(is_name_word(p) or _is_acronym(p) for p in word.split("-") if p)
    if word.isupper() and len(word) > 5 and gazetteer.lookup_place(word.title()):
        return True  # "PHOENIX —"
    return (
        is_name_word(word)
        or _is_acronym(word)
        or (
            word.endswith(".")
            and word[:-1].lower() in {"mr", "mrs", "ms", "dr", "prof", "gen", "sen"}
        )
    )


@dataclass(slots=True)
class _Mention:
    kind: Literal[
        "person", "organization", "place", "candidate", "single", "compound", "demonym_org"
    ]
    name: str
    pos: int
    evidence: bool = False
    the: bool = False
    locative: bool = False
    speech: bool = False
    sent_start: bool = False
    parts: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Context:
    lower_words: set[str]
    generic: set[str]
    # German capitalises every noun: capitalisation alone is then no evidence of a name
    noun_caps: bool = False
    mentions: list[_Mention] = field(default_factory=list)


def _runs(tokens: list[Token]) -> list[tuple[int, int]]:
    """Index ranges [i, j) of capitalised runs, joined across connectors ("Bank of Japan")."""
    runs: list[tuple[int, int]] = []
    runnable = [t.text[0].isupper() and _runnable_word(t.text) for t in tokens]
    i, n = 0, len(tokens)
    while i < n:
        if not runnable[i]:
            i += 1
            continue
        j = i + 1
        while j < n and not tokens[j - 1].possessive:
            tok = tokens[j]
            if tok.sent_start:
                break
            if runnable[j]:
                j += 1
            elif (
                tok.text in CONNECTORS
                and j + 1 < n
                and runnable[j + 1]
                and not tokens[j + 1].sent_start
            ):
                j += 2
            else:
                break
        runs.append((i, j))
        i = j
    return runs


def _place(words: list[str]) -> gazetteer.Place | None:
    return gazetteer.lookup_place(" ".join(words))


def _leading_places(words: list[str]) -> int:
    """How many words at the front of `words` are places ("U.S.", "Japan-U.S.", "New York")."""
    for n in range(min(4, len(words)), 0, -1):
        if _place(words[:n]) or (n == 1 and _compound_places(words[0])):
            return n
    return 0


def _compound_places(word: str) -> list[str]:
    parts = [p for p in word.split("-") if p]
    if len(parts) < 2:
        return []
    found = [gazetteer.lookup_place(p) for p in parts]
    return [p.name for p in found if p] if all(found) else []


def _emit_place(ctx: _Context, words: list[str], pos: int) -> None:
    text = " ".join(words)
    place = gazetteer.lookup_place(text)
    if place:
        ctx.mentions.append(_Mention("place", place.name, pos))
        return
    for name in _compound_places(text):
        ctx.mentions.append(_Mention("place", name, pos))


def _emit_trailing_place(ctx: _Context, words: list[str], pos: int) -> None:
    """ "Universidad de Sevilla", "Bank of Japan": the place an organisation is named after is
    mentioned too."""
    for k in range(len(words) - 2, 0, -1):
        if words[k] in _OF:
            tail = words[k + 1 :]
            if _place(tail):
                _emit_place(ctx, tail, pos)
            return


def _classify(ctx: _Context, words: list[str], pos: int, cue: bool, flags: dict[str, bool]) -> None:
    """Turn one capitalised run (determiners and sentence-initial words already dropped) into
    mentions appended to `ctx`."""
    if not words:
        return
    text = " ".join(words)
    demonyms = gazetteer.demonyms()
    given = gazetteer.given_names()
    if _place(words):
        _emit_place(ctx, words, pos)
        return
    if text in gazetteer.org_aliases():
        ctx.mentions.append(_Mention("organization", gazetteer.org_aliases()[text], pos))
        return
    last = words[-1]
    if (last in ORG_CUES and len(words) > 1) or (len(words) == 1 and last in ORG_SINGLES):
        start = 0
        while start < len(words) - 2 and words[start] in demonyms:
            start += 1
        if start:
            # "Japanese Foreign Ministry" merges into "Foreign Ministry" only when the article
            # also uses the bare name; "Scottish Environment Protection Agency" stays whole
            bare = " ".join(words[start:])
            ctx.mentions.append(_Mention("demonym_org", text, pos, parts=[bare]))
            return
        lead = _leading_places(words[start:])
        if lead and len(words) - start - lead >= 2 and words[start + lead] not in CONNECTORS:
            _emit_place(ctx, words[start : start + lead], pos)
            start += lead
        ctx.mentions.append(_Mention("organization", " ".join(words[start:]), pos))
        _emit_trailing_place(ctx, words, pos)
        return
    if any(w in ORG_CUES and nxt in _OF for w, nxt in itertools.pairwise(words)):
        ctx.mentions.append(_Mention("organization", text, pos))
        _emit_trailing_place(ctx, words, pos)
        return
    if last in PLACE_CUES and len(words) > 1 and words[0] not in given:
        ctx.mentions.append(_Mention("place", text, pos))
        return
    if words[0].isupper() and len(words[0]) > 3 and _place([words[0].title()]):
        _emit_place(ctx, [words[0].title()], pos)  # "PHOENIX —" datelines
        _classify(ctx, words[1:], pos, cue, {})
        return
    if _is_acronym(words[0]) and not parse_title(words).prefix:
        if _place(words[:1]):
            _emit_place(ctx, words[:1], pos)
        elif words[0] not in ctx.generic:
            ctx.mentions.append(_Mention("organization", words[0], pos))
        _classify(ctx, words[1:], pos, cue, {})
        return
    if words[0] in demonyms:
        _classify(ctx, words[1:], pos, cue, flags)
        return
    if len(words) > 1 and words[0] in PLACE_HEADS:
        ctx.mentions.append(_Mention("place", text, pos))
        return
    if any(w in CONNECTORS for w in words):
        # a connector that no title or organisation word explains: classify each side alone
        k = next(i for i, w in enumerate(words) if w in CONNECTORS)
        parse = parse_title(words)
        if not parse.title:
            _classify(ctx, words[:k], pos, cue, flags)
            _classify(ctx, words[k + 1 :], pos, False, {})
            return
    parse = parse_title(words)
    if parse.title:
        if parse.prefix:
            _classify(ctx, parse.prefix, pos, False, {})
        if parse.complement:
            _emit_place(ctx, parse.complement[1:], pos)
        name = [w for w in parse.name if w not in CONNECTORS]
        if name and len(name) <= 4 and all(is_name_word(w) for w in name):
            kind: Literal["candidate", "single"] = "candidate" if len(name) > 1 else "single"
            ctx.mentions.append(_Mention(kind, " ".join(name), pos, evidence=True))
        elif not name and parse.prefix and all(is_name_word(w) for w in parse.prefix):
            return  # "Stephen King": the prefix was already classified as a name
        return
    if len(words) > 1 and words[0] in ORG_CUES and all(is_name_word(w) for w in words[1:]):
        ctx.mentions.append(_Mention("organization", text, pos))  # "Police Scotland"
        return
    if len(words) > 2 and words[1] in given and words[0] not in given:
        _classify(ctx, words[1:], pos, True, flags)  # "Regent Carol Dunning"
        return
    lead = _leading_places(words)
    leader = _place(words[:lead]) if lead else None
    if leader and leader.kind == "city" and leader.population < _BIG_CITY:
        lead = 0
    if lead and lead < len(words) and words[0] not in given:
        rest = words[lead:]
        if rest[0] in given:
            _emit_place(ctx, words[:lead], pos)
            _classify(ctx, rest, pos, cue, flags)
        else:
            ctx.mentions.append(_Mention("organization", text, pos))
        return
    if len(words) == 1:
        word = words[0]
        if "-" in word and all(p[:1].isupper() for p in word.split("-") if p):
            parts = [p for p in word.split("-") if len(p) > 1]  # "R-Kansas": party letter
            ctx.mentions.append(_Mention("compound", word, pos, parts=parts))
            return
        ctx.mentions.append(
            _Mention(
                "single",
                word,
                pos,
                evidence=cue,
                the=flags.get("the", False),
                speech=flags.get("speech", False),
                sent_start=flags.get("sent_start", False),
                locative=flags.get("locative", False),
            )
        )
        return
    if len(words) <= 4 and all(is_name_word(w) and w not in demonyms for w in words):
        evidence = cue or words[0] in gazetteer.given_names() or flags.get("speech", False)
        ctx.mentions.append(_Mention("candidate", text, pos, evidence=evidence))


def _is_common(tok: Token, ctx: _Context) -> bool:
    low = tok.text.lower()
    if low in _DETERMINERS:
        return True
    if not tok.sent_start:
        return False
    if low in gazetteer.function_words() or low in MONTHS or low in WEEKDAYS:
        return True
    if low.endswith(("ly", "ing")) or (len(low) > 5 and low.endswith("ed")):
        return low.title() not in gazetteer.given_names()  # "Deceased Clarendon"
    return low in ctx.lower_words and gazetteer.lookup_place(tok.text) is None


def _is_role_apposition(tokens: list[Token], k: int) -> bool:
    """ ", a spokeswoman for …", ", who chairs …": a person is being described."""
    if k >= len(tokens):
        return False
    first = tokens[k].text.lower()
    if first == "who":
        return True
    if first not in ("a", "an", "the"):
        return False
    for tok in tokens[k + 1 : k + 5]:
        low = tok.text.lower()
        if low in ROLE_NOUNS or low.endswith(_ROLE_SUFFIXES):
            return True
        if not tok.is_word:
            break
    return False


def _scan_paragraph(ctx: _Context, text: str, base: int) -> None:
    tokens = tokenize(text)
    runs = _runs(tokens)
    locative_end = -1
    for n, (i, j) in enumerate(runs):
        the = i > 0 and tokens[i - 1].text.lower() == "the"
        named = j - i > 1 and tokens[j - 1].text in ORG_CUES  # "Network Rail has …"
        while (
            i < j
            and _is_common(tokens[i], ctx)
            and not _place([t.text for t in tokens[i:j]])
            and not (named and tokens[i].text.lower() not in gazetteer.function_words())
        ):
            the = the or tokens[i].text.lower() == "the"
            i += 1
        while i < j and tokens[i].text in CONNECTORS:
            i += 1
        if i >= j:
            continue
        words = [t.text for t in tokens[i:j]]
        prev = tokens[i - 1].text.lower() if i > 0 else ""
        nxt = tokens[j].text.lower() if j < len(tokens) else ""
        speech = (
            prev in SPEECH_VERBS
            or nxt in _SPEECH_AFTER
            or (nxt == "," and len(words) > 1 and _is_role_apposition(tokens, j + 1))
        )
        cue = prev in ROLE_NOUNS or prev in HONORIFICS or prev in ("i'm", "i’m", "named")
        if len(words) > 1 and nxt == ",":
            speech = speech or _APPOSITION_SAID_RE.match(text, tokens[j - 1].end) is not None
        pos = base + tokens[i].start
        # "Mar-a-Lago, Florida": a run followed by ", <state or country>" is a place
        if nxt == "," and n + 1 < len(runs) and runs[n + 1][0] == j + 1:
            follow = _place([t.text for t in tokens[runs[n + 1][0] : runs[n + 1][1]]])
            if (
                follow
                and follow.kind in ("state", "country")
                and not _place(words)
                and (len(words) > 1 or words[0] not in gazetteer.given_names())
            ):
                ctx.mentions.append(_Mention("place", " ".join(words), pos))
                continue
        locative = (
            prev in _LOCATIVE
            or (prev == "of" and i > 1 and tokens[i - 2].text.lower() in _COMPASS)
            or (prev in ("and", "or") and locative_end == i - 1)  # "in Largs and Helensburgh"
        )
        if locative:
            locative_end = j
        flags = {
            "the": the,
            "speech": speech,
            "sent_start": tokens[i].sent_start,
            "locative": locative,
        }
        _classify(ctx, words, pos, cue, flags)


def _resolve(ctx: _Context) -> list[Entity]:
    """Second pass: decide candidates and single words now that the whole article is known."""
    singles = {m.name for m in ctx.mentions if m.kind == "single"}
    for m in ctx.mentions:
        if m.kind == "compound":
            singles.update(m.parts)
    full = [
        m.name
        for m in ctx.mentions
        if m.kind == "candidate"
        and (m.evidence or (not ctx.noun_caps and m.name.split()[-1] in singles))
    ]
    index = PersonIndex(full)
    orgs = {m.name for m in ctx.mentions if m.kind == "organization"}
    counts: dict[tuple[str, Kind], int] = {}
    first: dict[tuple[str, Kind], int] = {}
    recent: dict[str, int] = {}

    def add(name: str, kind: Kind, pos: int) -> None:
        key = (name, kind)
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, pos)
        if kind == "person":
            recent[name] = pos

    def single(word: str, m: _Mention) -> tuple[str, Kind] | None:
        person = index.resolve(word, recent)
        if person:
            return person, "person"
        place = gazetteer.lookup_place(word)
        if place:
            return place.name, "place"
        if word in gazetteer.org_aliases():
            return gazetteer.org_aliases()[word], "organization"
        if _is_acronym(word):
            return (word, "organization") if word not in ctx.generic else None
        if word in gazetteer.demonyms() or not is_name_word(word):
            return None
        if m.evidence:
            return word, "person"
        if ctx.noun_caps:
            return None
        if m.speech and not m.sent_start:
            return word, "person"
        if m.locative:
            return word, "place"
        if m.the and word not in PLACE_CUES and word not in ORG_CUES and word[-1] != "s":
            return word, "organization"
        return None

    for m in sorted(ctx.mentions, key=lambda m: m.pos):
        if m.kind == "candidate":
            name = index.resolve(m.name, recent)
            if name:
                add(name, "person", m.pos)
        elif m.kind == "single":
            found = single(m.name, m)
            if found:
                add(*found, m.pos)
        elif m.kind == "compound":
            parts = [single(p, _Mention("single", p, m.pos)) for p in m.parts]
            resolved = [found for found in parts if found]
            if len(resolved) == len(parts):
                for name, kind in resolved:
                    add(name, kind, m.pos)
        elif m.kind == "demonym_org":
            bare = m.parts[0]
            add(bare if bare in orgs else m.name, "organization", m.pos)
        else:
            add(m.name, m.kind, m.pos)
    order = sorted(counts, key=lambda k: (-counts[k], first[k]))
    return [Entity(name=name, kind=kind, count=counts[(name, kind)]) for name, kind in order]


def _generic_acronyms(text: str) -> set[str]:
    """Acronyms the article itself spells out in lower case: "free trade agreement (FTA)"."""
    found = set()
    for match in _DEFINED_RE.finditer(text):
        acronym = match.group(1)
        words = text[max(0, match.start() - 120) : match.start()].split()[-len(acronym) :]
        initials = "".join(w[0] for w in words).upper()
        if initials == acronym and all(w[:1].islower() for w in words):
            found.add(acronym)
    return found


class RuleEntityExtractor:
    """The default, model-free extractor (see the module docstring for its rules)."""

    def __call__(self, paragraphs: list[str]) -> list[Entity]:
        text = "\n\n".join(paragraphs)
        lower_words = _LOWER_WORD_RE.findall(text)
        german = sum(1 for w in lower_words if w in _GERMAN_MARKERS)
        ctx = _Context(
            lower_words=set(lower_words),
            generic=_generic_acronyms(text),
            noun_caps=german > 0.08 * len(lower_words),
        )
        base = 0
        for paragraph in paragraphs:
            _scan_paragraph(ctx, paragraph, base)
            base += len(paragraph) + 2
        return _resolve(ctx)


_LOWER_WORD_RE = re.compile(r"(?<![\w’'.-])[a-z][a-z]+\b")


@functools.cache
def get_extractor(name: str = "rules") -> EntityExtractor:
    """The extractor configured by `name`: "rules" (default) or "spacy:<model package>".

    Raises ConfigError for an unknown name or a spaCy model that is not installed."""
    if name in ("", "rules"):
        return RuleEntityExtractor()
    kind, _, model = name.partition(":")
    if kind == "spacy":
        from extractors.ner_spacy import SpacyEntityExtractor

        return SpacyEntityExtractor(model or "en_core_web_sm")
    raise ConfigError(f"unknown entity extractor {name!r}: expected 'rules' or 'spacy:<model>'")


_default: Callable[[list[str]], list[Entity]] = RuleEntityExtractor()


def extract_entities(paragraphs: list[str]) -> list[Entity]:
    """People, organisations and places in `paragraphs`, merged and counted, most frequent first."""
    return _default(paragraphs)
