"""Direct quotations of full statements, with their speakers, verbs and paragraphs.

Quotation marks: curly “…”, straight "…", German „…“ and guillemets «…» / »…«; an opening mark
left unclosed runs to the end of its paragraph (the convention for a quote that continues in the
next one).

A quoted span is a *statement* — not a scare quote or a term — when one of these holds:

- colon: a clause ending in ":" introduces it and it has at least three words
  (`Abe … said: “Now is not the time …”`);
- speech verb and comma: `she said, “We will win.”` (two words or more);
- opening: it starts its sentence and is followed by an attribution (`“…,” he said.`,
  `“…,” said Jane Doe, a spokeswoman …`, `“…,” according to the report.`, `„…“, sagte Merkel.`),
  or it is a complete sentence of three words or more (a continuation of the previous speaker);
- "that": `recalls that “…”` with five words or more ending in sentence punctuation;
- inside a sentence, it needs four words or more, a capital first letter and an attribution after
  it. Everything else ("sound out", “bulwark”, “free and open Indo-Pacific”) is a scare quote or a
  term and is not returned.

Speakers are read from the attribution: the subject before the speech verb (adverbs such as
"reportedly" and relative clauses dropped), the name after a trailing verb, or for a colon without
a speech verb the subject of the clause ("a former senior official has this advice: …") or the
name after "statement from". Names lose their titles and resolve to the fullest name in the
article ("Secretary Tillerson" → "Rex Tillerson"); "he"/"she" resolve to the person who was the
subject of the latest sentence before; a bare title ("the Prime Minister") to the last person seen
with it. Anything else is kept as the described source (speaker_kind="description").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from extractors import gazetteer
from extractors.entities import extract_entities
from extractors.names import (
    ABBREVIATIONS,
    PRONOUNS_PERSON,
    SPEECH_VERBS,
    PersonIndex,
    Token,
    is_name_word,
    parse_title,
    sentence_spans,
    tokenize,
    wordset,
)
from newsdesk.models import Entity, Quote

_OPENERS = {"“": "”", "„": "“”", "«": "»", "»": "«", '"': '"'}
_QUOTE_CHARS_RE = re.compile(r"[“”„«»\"]")
_WORDS_RE = re.compile(r"\w+")
_VERB_ALT = "|".join(sorted(SPEECH_VERBS, key=len, reverse=True))
_SPEAKER = r"[^,.;:!?“”„\"()]{1,80}?"
_TAIL_VERB_FIRST = re.compile(rf"^(?P<verb>{_VERB_ALT})\s+(?P<speaker>[^,;:!?“”„\"()]+)", re.I)
_TAIL_SPEAKER_FIRST = re.compile(
    rf"^(?P<speaker>{_SPEAKER})\s+(?:\w+ly\s+)?(?P<verb>{_VERB_ALT})\b", re.I
)
_TAIL_ACCORDING = re.compile(r"^(?P<verb>according to)\s+(?P<speaker>[^,;:!?“”„\"()]+)", re.I)
_TAIL_SO = re.compile(r"^(?P<verb>so)\s+(?P<speaker>[A-ZÄÖÜ][^,;:!?“”„\"()]*)")
_VERB_RE = re.compile(rf"\b(?P<verb>{_VERB_ALT})\b", re.I)
_FROM_RE = re.compile(
    r"\b(?:statement|remarks?|comments?|words|message|response|reply|answer|assurance)\s+from\s+"
    r"(?P<speaker>(?:[A-Z][\w.’'-]*\s?)+)"
)
_CLAUSE_SPLIT_RE = re.compile(r"[,;—–]|\s+(?:and|but)\s+")
_SPEAKER_TRIM_RE = re.compile(
    r"\s+(?:in|on|at|during|after|before|when|while|last|this|yesterday|today|to|from|about|"
    r"with|told|who|adding|according)\b.*$",
    re.I,
)
_AUXILIARIES = wordset(
    """
    has have had is was are were will would can could may might should must does did do
    also reportedly later then once even still just recently previously already again never
    often always first finally once publicly privately
    """
)
_DETERMINERS = wordset(
    "a an the one another some certain this that these those der die das ein eine el la los las "
    "un una le les une"
)
_RELATIVES = wordset("who which whose whom where")
_PRONOUNS_OTHER = wordset("i we you they it me us them this that")


@dataclass(slots=True)
class _Span:
    start: int  # index of the opening mark
    end: int  # index of the closing mark (len(text) when unclosed)
    text: str


@dataclass(slots=True)
class _People:
    """Person surface forms of the article, for speaker and pronoun resolution. Titles,
    sentence subjects and described subjects are read from the paragraphs on first use: most
    articles quote nobody by title or pronoun and never need them."""

    index: PersonIndex
    forms: dict[str, str]
    paragraphs: list[str]
    _pattern: re.Pattern[str] | None = None
    _titles: dict[str, str] | None = None
    # (global offset, person) of each sentence's first person, and (start, end, description)
    # of paragraphs whose first sentence has a described speaker as its subject: "A former
    # employee …, who asked not to be named, said …"
    _subjects: tuple[list[tuple[int, str]], list[tuple[int, int, str]]] | None = None

    @property
    def pattern(self) -> re.Pattern[str] | None:
        if self._pattern is None and self.forms:
            self._pattern = _names_pattern(tuple(sorted(self.forms, key=len, reverse=True)))
        return self._pattern

    @property
    def titles(self) -> dict[str, str]:
        if self._titles is None:
            self._titles = {}
            for paragraph in self.paragraphs:
                _collect_titles(paragraph, self, self.forms)
        return self._titles

    @property
    def subjects(self) -> list[tuple[int, str]]:
        return self._subjects_and_described()[0]

    @property
    def described(self) -> list[tuple[int, int, str]]:
        return self._subjects_and_described()[1]

    def _subjects_and_described(
        self,
    ) -> tuple[list[tuple[int, str]], list[tuple[int, int, str]]]:
        if self._subjects is not None:
            return self._subjects
        pattern = self.pattern
        subjects: list[tuple[int, str]] = []
        described: list[tuple[int, int, str]] = []
        base = 0
        for paragraph in self.paragraphs:
            if pattern is not None:
                spans = _spans(paragraph)
                for s_start, s_end in sentence_spans(paragraph):
                    for match in pattern.finditer(paragraph, s_start, s_end):
                        if not _inside(match.start(), spans):
                            subjects.append((base + match.start(), self.forms[match.group()]))
                            break
            description = _described_subject(paragraph)
            if description:
                described.append((base, base + len(paragraph), description))
            base += len(paragraph) + 2
        self._subjects = subjects, described
        return self._subjects


@lru_cache(maxsize=256)
def _names_pattern(forms: tuple[str, ...]) -> re.Pattern[str]:
    """Any of `forms` (longest first) as a whole word; cached, as compiling is costly."""
    alternation = "|".join(re.escape(f) for f in forms)
    return re.compile(rf"(?<![\w-])(?:{alternation})(?![\w-])")


def _spans(text: str) -> list[_Span]:
    spans: list[_Span] = []
    opener, start = "", -1
    for match in _QUOTE_CHARS_RE.finditer(text):
        ch, at = match.group(), match.start()
        if opener:
            if ch in _OPENERS[opener]:
                spans.append(_Span(start, at, text[start + 1 : at]))
                opener = ""
                continue
            if ch != opener:
                continue
        if ch in _OPENERS and (ch != "»" or opener == ""):
            opener, start = ch, at
    if opener:
        spans.append(_Span(start, len(text), text[start + 1 :]))
    return spans


def _inside(pos: int, spans: list[_Span]) -> bool:
    return any(s.start < pos < s.end for s in spans)


def _build_people(paragraphs: list[str], entities: list[Entity]) -> _People:
    full = [e.name for e in entities if e.kind == "person"]
    index = PersonIndex(full)
    forms: dict[str, str] = {}
    for name in full:
        forms[name] = index.resolve(name) or name
        parts = name.split()
        for part in (parts[0], parts[-1]):
            resolved = index.resolve(part)
            if resolved and is_name_word(part):
                forms.setdefault(part, resolved)
            elif len(parts) == 1:
                forms.setdefault(part, name)
    return _People(index, forms, list(paragraphs))


def _collect_titles(paragraph: str, people: _People, forms: dict[str, str]) -> None:
    """Remember which person each title was last used with ("Prime Minister" → "Shinzo Abe")."""
    words: list[str] = []
    for tok in [*tokenize(paragraph), Token(".", 0, 0)]:
        if tok.is_word and (tok.is_cap or tok.text in ("of", "to")):
            words.append(tok.text)
            if not tok.possessive:
                continue
        if words:
            parse = parse_title(words)
            if parse.title:
                name = " ".join(parse.name)
                person = forms.get(name) or people.index.resolve(name)
                if person:
                    people.titles[" ".join(parse.title).lower()] = person
                    people.titles[parse.title[-1].lower()] = person
            words = []


def _described_subject(paragraph: str) -> str | None:
    first = paragraph.split(",", 1)[0].split(".", 1)[0]
    words = first.split()
    if len(words) < 2 or words[0].lower() not in ("a", "an", "the") or words[1][:1].isupper():
        return None
    head = paragraph[: paragraph.find(".") if "." in paragraph else len(paragraph)]
    if not _VERB_RE.search(head) or _QUOTE_CHARS_RE.search(first):
        return None
    subject = _subject(first)
    return words[0].lower() + subject[len(words[0]) :] if subject else None


def _pronoun_speaker(people: _People, pos: int) -> tuple[str | None, str]:
    """The person (or described source) that "he"/"she" at `pos` refers to: the latest person
    subject in the same paragraph, else the paragraph's described subject, else the latest
    person subject before."""
    best = None
    for at, name in people.subjects:
        if at >= pos:
            break
        best = at, name
    for start, end, description in people.described:
        if start <= pos < end and (best is None or best[0] < start):
            return description, "description"
    return (best[1], "person") if best else (None, "unknown")


def _resolve_speaker(
    chunk: str, people: _People, pos: int, entities: list[Entity]
) -> tuple[str | None, str]:
    """(speaker, speaker_kind) for the words that name or describe who spoke."""
    chunk = chunk.strip(" ,;:—–-\u00a0")
    if not chunk:
        return None, "unknown"
    low = chunk.lower()
    if low in PRONOUNS_PERSON:
        return _pronoun_speaker(people, pos)
    if low in _PRONOUNS_OTHER:
        return None, "unknown"
    first = low.split()[0]
    if first in gazetteer.function_words() and first not in _DETERMINERS:
        return None, "unknown"  # "Deshalb", "However"
    words = chunk.split()
    determiner = words[0].lower() in _DETERMINERS
    rest = " ".join(words[1:]) if determiner else chunk
    if rest[:1].isupper() or not determiner:
        if people.pattern:
            match = people.pattern.search(rest)
            if match:
                return people.index.resolve(match.group()) or match.group(), "person"
        run = _leading_run(rest)
        if run:
            parse = parse_title(run.split())
            if parse.title and not parse.name:
                person = people.titles.get(" ".join(parse.title).lower())
                if person:
                    return person, "person"
            elif parse.title and all(is_name_word(w) for w in parse.name):
                name = " ".join(parse.name)
                return people.index.resolve(name) or name, "person"
            elif (
                not determiner
                and all(is_name_word(w) for w in run.split())
                and run.split()[0] in gazetteer.given_names()
                and not any(e.name == run and e.kind != "person" for e in entities)
                and gazetteer.lookup_place(run) is None
            ):
                return people.index.resolve(run) or run, "person"
    if len(words) > 14:
        return None, "unknown"
    if determiner:
        chunk = words[0].lower() + chunk[len(words[0]) :]
    return chunk, "description"


def _leading_run(text: str) -> str:
    words: list[str] = []
    for tok in tokenize(text):
        if tok.is_word and (tok.is_cap or (words and tok.text in ("of", "to", "for"))):
            words.append(tok.text)
            if tok.possessive:
                break
        else:
            break
    while words and words[-1] in ("of", "to", "for"):
        words.pop()
    return " ".join(words)


def _subject(segment: str) -> str:
    """The noun phrase a clause starts with: "a former senior official has this advice" →
    "a former senior official"."""
    words = segment.split()
    out: list[str] = []
    for word in words:
        bare = word.strip(",;:")
        low = bare.lower()
        if out and (low in _AUXILIARIES or low in SPEECH_VERBS):
            break
        if (
            out
            and not bare[:1].isupper()
            and out[-1][:1].isupper()
            and low not in ("of", "to")
            and out[0].lower() not in _DETERMINERS
        ):
            break
        out.append(bare)
        if len(out) > 12:
            break
    return " ".join(out)


def _lead_speaker(clause: str) -> tuple[str, str | None]:
    """(speaker words, verb) from the clause that leads into a quote."""
    verb_match = None
    for match in _VERB_RE.finditer(clause):
        verb_match = match
    if verb_match is None:
        from_match = _FROM_RE.search(clause)
        if from_match:
            return from_match.group("speaker"), None
        for segment in reversed(_CLAUSE_SPLIT_RE.split(clause)):
            words = segment.split()
            if words and words[0].lower() not in _AUXILIARIES | _RELATIVES | SPEECH_VERBS:
                return _subject(segment.strip()), None
        return "", None
    verb = verb_match.group("verb").lower()
    before = clause[: verb_match.start()]
    segments = _CLAUSE_SPLIT_RE.split(before)
    for segment in reversed(segments):
        words = segment.split()
        while words and (words[-1].lower() in _AUXILIARIES or words[-1].lower().endswith("ly")):
            words.pop()
        if not words:
            continue
        if words[0].lower() in _RELATIVES:
            continue
        if segment is segments[-1]:
            return " ".join(words), verb
        return _subject(" ".join(words)), verb
    return "", verb


def _apposed_name(text: str) -> str | None:
    """ "la delegada de Medio Ambiente, Carmen Villalobos, durante …" → "Carmen Villalobos"."""
    parts = text.split(",")
    if len(parts) < 2 or not parts[0].split() or parts[0].split()[0].lower() not in _DETERMINERS:
        return None
    name = parts[1].strip().rstrip(".")
    words = name.split()
    if 1 < len(words) <= 4 and all(is_name_word(w) for w in words):
        return name
    return None


def _tail_speaker(tail: str) -> tuple[str, str] | None:
    """(speaker words, verb) from an attribution right after the closing mark."""
    tail = tail.lstrip(" ,\u00a0")
    for pattern in (_TAIL_ACCORDING, _TAIL_VERB_FIRST, _TAIL_SO, _TAIL_SPEAKER_FIRST):
        match = pattern.match(tail)
        if match:
            speaker = match.group("speaker")
            if pattern is _TAIL_VERB_FIRST:
                speaker = _apposed_name(tail[match.start("speaker") :]) or speaker
            speaker = _SPEAKER_TRIM_RE.sub("", speaker).strip()
            last = speaker.rsplit(" ", 1)[-1]
            if (
                last.endswith(".")
                and last[:-1].lower() not in ABBREVIATIONS
                and "." not in last[:-1]
            ):
                speaker = speaker[:-1]
            if pattern is _TAIL_SPEAKER_FIRST and len(speaker.split()) > 8:
                continue
            if speaker:
                return speaker, match.group("verb").lower()
    return None


def _clean(text: str) -> str:
    return text.strip().rstrip(",").strip()


def extract_quotes(paragraphs: list[str], entities: list[Entity]) -> list[Quote]:
    """Direct quotations of full statements in `paragraphs`, with speakers resolved against
    `entities` (extracted here with the default extractor when the list is empty)."""
    if not entities:
        entities = extract_entities(paragraphs)
    people = _build_people(paragraphs, entities)
    quotes: list[Quote] = []
    base = 0
    for number, paragraph in enumerate(paragraphs):
        spans = _spans(paragraph)
        sentences = sentence_spans(paragraph) if spans else []
        for span in spans:
            quote = _quote(paragraph, span, sentences, people, base, number, quotes, entities)
            if quote:
                quotes.append(quote)
        base += len(paragraph) + 2
    return quotes


def _quote(
    paragraph: str,
    span: _Span,
    sentences: list[tuple[int, int]],
    people: _People,
    base: int,
    number: int,
    previous: list[Quote],
    entities: list[Entity],
) -> Quote | None:
    text = _clean(span.text)
    n_words = len(_WORDS_RE.findall(text))
    if n_words == 0:
        return None
    s_start, s_end = next(
        ((a, b) for a, b in sentences if a <= span.start < b), (0, len(paragraph))
    )
    lead = paragraph[s_start : span.start].rstrip()
    tail = paragraph[span.end + 1 : max(s_end, span.end + 1)]
    complete = text[-1:] in ".?!…" or span.text.rstrip()[-1:] in ".?!…"
    lead_low = lead.lower()
    speaker_words: str | None = None
    verb: str | None = None
    tail_attr = _tail_speaker(tail)
    if lead.endswith(":"):
        if n_words < 3 and not complete:
            return None
        speaker_words, verb = _lead_speaker(lead[:-1])
    elif lead.endswith(",") and _VERB_RE.search(" ".join(lead[:-1].split()[-3:])):
        if n_words < 2:
            return None
        speaker_words, verb = _lead_speaker(lead[:-1])
    elif lead_low == "that" or lead_low.endswith(" that"):
        if n_words < 5 or not complete:
            return None
        speaker_words, verb = _lead_speaker(lead[:-4])
    elif not lead:
        if tail_attr:
            speaker_words, verb = tail_attr
        elif n_words >= 3 and complete:
            prior = previous[-1] if previous else None
            if prior and prior.paragraph >= number - 1:
                return Quote(
                    text=text,
                    speaker=prior.speaker,
                    speaker_kind=prior.speaker_kind,
                    verb=prior.verb,
                    paragraph=number,
                )
            return Quote(text=text, paragraph=number)
        else:
            return None
    elif tail_attr and n_words >= 4 and text[:1].isupper():
        speaker_words, verb = tail_attr
    else:
        return None
    speaker, kind = _resolve_speaker(speaker_words or "", people, base + span.start, entities)
    if verb is None and speaker is None:
        return None  # "Diese Folge: „…“" is a label, not somebody speaking
    return Quote(text=text, speaker=speaker, speaker_kind=kind, verb=verb, paragraph=number)  # type: ignore[arg-type]
