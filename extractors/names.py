"""Shared name utilities: a token scanner, titles and honorifics, surname → full-name resolution.

The scanner is a single regex pass that keeps abbreviations ("U.S.", "Mr.", "Oct.") and hyphen
compounds ("Japan-U.S.", "Mar-a-Lago") whole, splits possessives ("Abe’s" → "Abe"), and marks the
first word of every sentence, including the first word inside an opening quotation mark, because
a capital letter there says nothing about names.

Titles are parsed as ``modifier* head post* (of|to|for complement)?`` ("Deputy Prime Minister",
"Secretary of State", "U.S. Ambassador to Japan", "Attorney General"); what follows a title is the
person's name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from extractors import gazetteer


def wordset(text: str) -> frozenset[str]:
    """The whitespace-separated words of `text` (keeps long word lists readable)."""
    return frozenset(text.split())


_WORD_RE = re.compile(r"\w+(?:[’'\-&.]\w+|\.-\w+)*\.?|[^\w\s]")
_DOTTED_RE = re.compile(r"(?:\w+-)*(?:\w\.)+\w")
_GLUED_RE = re.compile(r"(?<=[a-z]{2})\.(?=[A-Z][a-z])")
_CONTRACTION_RE = re.compile(r"['’](?:m|re|ve|ll|d|t)$|n['’]t$")
_POSSESSIVE = ("’s", "'s", "’S", "'S")

ABBREVIATIONS = wordset(
    "mr mrs ms mx dr prof gen lt col capt sgt cpl adm cmdr rep sen gov st jr sr inc corp co ltd "
    "llc plc bros no vs etc jan feb mar apr jun jul aug sep sept oct nov dec mt ft rev hon messrs "
    "dept univ assn ave blvd"
)
# Abbreviations that can also close a sentence ("… with the U.S. The talks …").
_SOFT_ENDERS = wordset("inc corp co ltd llc plc jr sr etc")

MONTHS = wordset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
)
WEEKDAYS = wordset(
    "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri "
    "sat sun"
)

SENTENCE_END = frozenset(".?!…")
OPEN_QUOTES = frozenset("“„«‹‚‘")
CLOSE_QUOTES = frozenset("”»›’")
CONNECTORS = wordset("of for to de del der den van von la le du da dos das di al bin ibn y &")

# Words that head a title; what follows them in a capitalised run is a person's name.
TITLE_HEADS = wordset(
    """
    president minister premier chancellor secretary ambassador envoy governor mayor senator
    sen. representative rep. congressman congresswoman gov. king queen prince princess emperor
    empress pope cardinal archbishop bishop rabbi imam sheikh sultan emir gen. admiral adm.
    colonel col. captain capt. lieutenant lt. sergeant sgt. commander cmdr. chief director
    chairman chairwoman chairperson ceo cfo coo cto founder spokesman spokeswoman spokesperson
    judge justice prosecutor attorney commissioner inspector detective superintendent dean
    professor prof. dr. doctor mr. mrs. ms. mx. miss sir dame lord lady baron baroness duke
    duchess rev. reverend coach manager speaker leader officer executive mp president-elect
    vice-president secretary-general treasurer counsel consul minister-president herr frau
    präsident präsidentin kanzler kanzlerin bundeskanzler bundeskanzlerin ministerpräsident
    ministerpräsidentin bürgermeister bürgermeisterin
    """
)
# German compounds end in their head: "Verkehrssenator", "Betriebsratsvorsitzende".
_COMPOUND_HEADS = tuple(
    wordset(
        """
        senator senatorin minister ministerin präsident präsidentin vorsitzende vorsitzender
        sprecher sprecherin chef chefin direktor direktorin leiter leiterin bürgermeister
        bürgermeisterin kanzler kanzlerin beauftragte beauftragter
        """
    )
)
HONORIFICS = wordset("mr. mrs. ms. mx. miss dr. prof. sir dame herr frau")
# Words that may stand before a head ("Deputy Prime Minister", "Defense Secretary").
TITLE_MODIFIERS = wordset(
    """
    deputy vice acting former interim chief senior foreign defense defence finance trade
    economy interior justice health education energy environment agriculture transport home
    labor labour first grand supreme assistant associate executive managing attorney surgeon
    lieutenant brigadier rear prime crown press national security commerce treasury opposition
    majority minority state house senate cabinet principal special general major regional
    provincial federal district chief-executive lord high
    """
)
# Words that may follow a head inside the title ("Attorney General", "President-elect").
TITLE_POST = wordset("general elect minister officer executive")
# After "Secretary of", "Minister for": department words that belong to the title.
DEPARTMENT_WORDS = wordset(
    """
    state defense defence foreign affairs finance health justice interior trade energy
    education commerce treasury labor labour agriculture transportation transport homeland
    security economy economic environment culture home veterans housing development industry
    communications science technology digital public works welfare family sport sports tourism
    immigration war navy army air force europe
    """
)
# Lower-case role nouns that introduce a name ("spokeswoman Jane Doe", "analyst Sam Roe").
ROLE_NOUNS = wordset(
    """
    spokesman spokeswoman spokesperson analyst economist lawyer attorney director chairman
    chairwoman founder author professor actor actress singer writer reporter correspondent coach
    player striker official minister leader candidate rival wife husband son daughter father
    mother brother sister colleague adviser advisor aide lawmaker senator president secretary
    ambassador envoy governor mayor ceo executive researcher scientist historian expert chair
    commentator columnist editor photographer resident student teacher doctor nurse
    """
)

PRONOUNS_PERSON = wordset("he she him her his hers")

# Verbs that attribute speech, in English and German; "according to" is handled by the callers.
SPEECH_VERBS = wordset(
    """
    said says say told tells tell asked asks ask added adds explained explains wrote writes
    tweeted tweets posted posts recalled recalls stated states noted notes remarked remarks
    replied replies responded responds answered answers insisted insists argued argues warned
    warns declared declares announced announces acknowledged acknowledges admitted admits
    claimed claims commented comments complained complains conceded concedes confirmed confirms
    continued continues cautioned cautions emphasized emphasizes emphasised emphasises
    stressed stresses exclaimed joked jokes lamented laments mused observed observes predicted
    predicts promised promises recounted recounts repeated repeats reported reports shouted
    suggested suggests urged urges vowed vows whispered disclosed discloses revealed reveals
    testified testifies pleaded quipped boasted countered counters contended contends
    maintained maintains agreed agrees concluded concludes wondered wonders texted messaged
    emailed sagte sagt sagten erklärte erklärt betonte betont meinte meint fügte schrieb
    schreibt warnte warnt dijo afirmó explicó señaló aseguró indicó añadió declaró comentó
    subrayó advirtió destacó manifestó sostuvo apuntó relató contó agregó precisó insistió
    dit déclare déclaré explique expliqué affirme affirmé souligne ajoute précise indique
    estime
    """
)


@dataclass(slots=True)
class Token:
    """One word or punctuation mark of a paragraph, with character offsets into it."""

    text: str
    start: int
    end: int
    sent_start: bool = False
    possessive: bool = False

    @property
    def is_word(self) -> bool:
        return self.text[0].isalnum()

    @property
    def is_cap(self) -> bool:
        return self.text[0].isupper()


def _split_word(text: str, start: int) -> list[Token]:
    if "." not in text and "'" not in text and "’" not in text:
        return [Token(text, start, start + len(text))]
    glued = _GLUED_RE.search(text)
    if glued:
        cut = glued.start() + 1
        return [
            *_split_word(text[: cut - 1], start),
            Token(".", start + cut - 1, start + cut),
            *_split_word(text[cut:], start + cut),
        ]
    if text.endswith(".") and len(text) > 1:
        core = text[:-1]
        keep = (
            core.lower() in ABBREVIATIONS
            or _DOTTED_RE.fullmatch(core) is not None
            or (len(core) == 1 and core.isupper())
        )
        if not keep:
            return [*_split_word(core, start), Token(".", start + len(core), start + len(text))]
    if text.endswith(_POSSESSIVE) and len(text) > 2:
        return [Token(text[:-2], start, start + len(text) - 2, possessive=True)]
    return [Token(text, start, start + len(text))]


def tokenize(text: str) -> list[Token]:
    """Split `text` into tokens and mark sentence starts (linear in the length of `text`).

    Results are cached per text (quotes and entities scan the same paragraphs): treat the
    returned tokens as read-only."""
    return _tokenize(text)


@lru_cache(maxsize=512)
def _tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    append = tokens.append
    find = text.find
    start = 0
    # only whitespace lies between matches, so each word is found where the regex matched it
    for word in _WORD_RE.findall(text):
        start = find(word, start)
        if not (word[0].isalnum() or word[0] == "_"):
            append(Token(word, start, start + len(word)))
        elif "." in word or "'" in word or "’" in word:
            tokens.extend(_split_word(word, start))
        else:
            append(Token(word, start, start + len(word)))
        start += len(word)
    pending = True
    soft_end = False  # the previous token is "Inc." or "U.S.", which may close a sentence
    functions = gazetteer.function_words()
    for tok in tokens:
        word = tok.text
        ch = word[0]
        if ch.isalnum() or ch == "_":
            if soft_end and ch.isupper() and word.lower() in functions:
                pending = True
            tok.sent_start = pending
            pending = False
            soft_end = word[-1] == "." and (
                word[:-1].lower() in _SOFT_ENDERS or _DOTTED_RE.fullmatch(word[:-1]) is not None
            )
        else:
            soft_end = False
            if (
                ch in SENTENCE_END
                or ch in OPEN_QUOTES
                or (ch == '"' and (tok.start == 0 or text[tok.start - 1] in " (:\t\n"))
            ):
                pending = True
    return tokens


@lru_cache(maxsize=512)
def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of `text` (sentences inside quotes are not split off)."""
    tokens = _tokenize(text)
    spans: list[tuple[int, int]] = []
    start = 0
    depth = 0
    straight = False
    for i, tok in enumerate(tokens):
        ch = tok.text[0]
        closes_sentence = False
        if ch == '"':
            straight = not straight
            depth += 1 if straight else -1
            closes_sentence = not straight and tokens[i - 1].text[0] in SENTENCE_END
        elif ch in "“„«" and not (ch == "“" and depth):
            depth += 1
        elif ch in "”»“" and depth:
            depth -= 1
            closes_sentence = depth == 0 and i > 0 and tokens[i - 1].text[0] in SENTENCE_END
        if (
            depth == 0
            and tok.text[-1] == "."
            and tok.is_word
            and (tok.text[:-1].lower() in _SOFT_ENDERS or _DOTTED_RE.fullmatch(tok.text[:-1]))
            and i + 1 < len(tokens)
            and (tokens[i + 1].text in ("“", "„", "«") or tokens[i + 1].sent_start)
        ):
            closes_sentence = True
        if closes_sentence or (ch in SENTENCE_END and depth == 0):
            end = tok.end
            j = i + 1
            while j < len(tokens) and tokens[j].text[0] in "”’)»":
                end = tokens[j].end
                j += 1
            if j < len(tokens) and not tokens[j].is_cap and tokens[j].text[0] not in '“"„«(':
                continue
            spans.append((start, end))
            start = tokens[j].start if j < len(tokens) else len(text)
    if start < len(text) and text[start:].strip():
        spans.append((start, len(text)))
    return spans


@lru_cache(maxsize=16384)
def is_name_word(word: str) -> bool:
    """A capitalised word that could be part of a name: "Abe", "O’Brien", "McDonald", "Mar-a-Lago";
    not acronyms ("TVs", "NATO"), numbers or function words. Cached: articles repeat their
    names and every extractor asks about them."""
    if not word[0].isupper() or not any(c.islower() for c in word):
        return False
    letters = [c for c in word if c.isalpha()]
    if len(letters) >= 2 and sum(c.isupper() for c in letters) >= len(letters) - 1:
        return False  # "TVs", "CEOs"
    low = word.lower()
    if _CONTRACTION_RE.search(low):
        return False  # "I'm", "We’ll", "Don't"
    return low not in MONTHS and low not in WEEKDAYS


@dataclass(slots=True)
class TitleParse:
    """A capitalised run split around its title: ``prefix title complement name``."""

    prefix: list[str] = field(default_factory=list)
    title: list[str] = field(default_factory=list)
    complement: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)


def _is_head(low: str) -> bool:
    return low in TITLE_HEADS or (len(low) > 9 and low.endswith(_COMPOUND_HEADS))


@lru_cache(maxsize=16384)
def _heads_title(word: str) -> bool:
    return _is_head(word.lower())


def _title_end(words: list[str], i: int) -> int:
    """End index of a title that starts at `words[i]`, or `i` when there is none."""
    j = end = i
    while j < len(words):
        low = words[j].lower()
        if _is_head(low) or (low in TITLE_POST and end == j and end > i):
            j = end = j + 1
        elif low in TITLE_MODIFIERS:
            j += 1
        else:
            break
    return end


def parse_title(words: list[str]) -> TitleParse:
    """Split a capitalised run into the part before a title, the title, its "of/to" complement
    and the name that follows (``["U.S.", "Ambassador", "to", "Japan", "William", "Hagerty"]`` →
    prefix U.S., title Ambassador, complement to Japan, name William Hagerty)."""
    if not any(map(_heads_title, words)):
        return TitleParse(name=list(words))  # every title has a head word
    for i in range(len(words)):
        end = _title_end(words, i)
        if end == i:
            continue
        parse = TitleParse(prefix=words[:i], title=words[i:end])
        rest = words[end:]
        if len(rest) >= 2 and rest[0] in ("of", "to", "for"):
            k = 1
            while k < len(rest) and rest[k].lower() in DEPARTMENT_WORDS | {"the", "and"}:
                k += 1
            if k == 1:
                for n in range(min(4, len(rest) - 1), 0, -1):
                    if gazetteer.lookup_place(" ".join(rest[1 : 1 + n])):
                        k = 1 + n
                        break
            parse.complement, rest = rest[:k], rest[k:]
        parse.name = rest
        return parse
    return TitleParse(name=list(words))


def strip_title(name: str) -> str:
    """ "President Donald Trump" → "Donald Trump"; "U.S. Ambassador to Japan William Hagerty" →
    "William Hagerty"; a name without a title comes back unchanged."""
    words = [t.text for t in tokenize(name) if t.is_word]
    parse = parse_title(words)
    if parse.title and parse.name:
        return " ".join(parse.name)
    return name.strip()


class PersonIndex:
    """Resolves partial mentions ("Abe", "Shinzo", "Donald J. Trump") to the fullest name used."""

    full: list[str]

    def __init__(self, full_names: Iterable[str]) -> None:
        names = sorted({n for n in full_names if " " in n}, key=lambda n: -len(n.split()))
        self.full = []
        for name in names:
            if self._containing(name.split()) is None:
                self.full.append(name)
        self._by_last: dict[str, list[str]] = {}
        self._by_first: dict[str, list[str]] = {}
        for name in self.full:
            parts = name.split()
            self._by_last.setdefault(parts[-1], []).append(name)
            self._by_first.setdefault(parts[0], []).append(name)

    def _containing(self, parts: list[str]) -> str | None:
        for name in self.full:
            full = name.split()
            if full[0] == parts[0] and full[-1] == parts[-1] and set(parts) <= set(full):
                return name
        return None

    def resolve(self, mention: str, recent: Mapping[str, int] | None = None) -> str | None:
        """The full name `mention` refers to; with several candidates, the one in `recent` (name
        → position of its last mention) seen latest, else None."""
        parts = mention.split()
        if not parts:
            return None
        if len(parts) > 1:
            return self._containing(parts)
        for table in (self._by_last, self._by_first):
            candidates = table.get(parts[0])
            if not candidates:
                continue
            if len(candidates) == 1:
                return candidates[0]
            if recent:
                seen = [c for c in candidates if c in recent]
                if seen:
                    return max(seen, key=lambda c: recent[c])
            return None
        return None
