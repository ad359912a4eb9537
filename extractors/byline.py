"""A byline string to structured authors.

`By Kenji Minemura, Shigeki Tosa in Washington; Kotaro Ono in Tokyo` gives three authors, the
first two in Washington. The grammar handled:

- a leading `By`/`Von`/`Par`/...; groups split by `;`; names split by commas, `and`, `&`
  (and their German/French/Spanish forms);
- `in <Place>` locates its own name and the unlocated names before it in the group, up to
  one that has a role (`Clara Weiss, Senior Correspondent, and Tomasz Nowak in Berlin`: only
  Nowak is in Berlin);
- a comma part naming a role (`Senior Correspondent`) or an agency (`Reuters`, also in
  parentheses) attaches to the names; a one-word part after a name is a place
  (`Jane Doe, London`);
- e-mail addresses, @handles, URLs and trailing dates are dropped; ALL-CAPS names are
  title-cased; a publication (`The New York Times`) is skipped;
- text that reads as prose gives no authors.
"""

from __future__ import annotations

import re

from extractors.agencies import agency_name
from newsdesk.models import Author

_LEAD_WORDS = (
    r"written|posted|reported|compiled|edited|story|text|words|photos?|post|author|erstellt"
    r"|geschrieben|verfasst|ein|eine|beitrag|artikel|publié|écrit|escrito|publicado|scritto"
    r"|pubblicato|rédigé|interview|reporting|additional"
)
_PREFIX = re.compile(
    rf"^(?:(?:{_LEAD_WORDS})\s+){{0,3}}(?:by|von|par|por|door|av|af)\b[\s:,]*"
    r"|^(?:text|texte|autor(?:in)?|auteur|author|words|interview)\b[\s:,]+",
    re.I,
)
_LOWER_PREFIX = re.compile(r"^(?:di|de|da)\s+")
_LABEL = re.compile(r"^(?:author|autor|auteur|authors|autoren|byline)\s*:\s*", re.I)
_EMAIL = re.compile(r"\S+@\S+\.\w+")
_HANDLE = re.compile(r"(?<!\w)@\w+")
_URL = re.compile(r"https?://\S+|www\.\S+")
_PARENS = re.compile(r"\(([^()]*)\)")
_SEGMENT = re.compile(r"\s+[|•·]\s+|\s*\|\s*|\s+[–—-]\s+(?=\S)")
_MONTH = (
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|januar|februar|märz|mai|juni|juli"
    r"|oktober|dezember|janvier|février|mars|avril|juin|juillet|août|enero|febrero|marzo|abril"
    r"|mayo|junio|julio|agosto)[a-zé]*\.?"
)
_DATE_START = re.compile(
    rf"\b{_MONTH}\s+\d|\b\d{{1,2}}\.?\s+{_MONTH}\s+\d|\d{{1,2}}:\d\d|\b(?:19|20)\d\d\b"
    r"|\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b|\b(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*day\b"
    r"|\b(?:updated|published|posted|aktualisiert|veröffentlicht|publié|mis à jour|\d+ \w+ ago)\b",
    re.I,
)
_DANGLING = re.compile(r"\s+(?:am|on|le|el|il|at|um|den|the|vom|du|del|on the)$", re.I)
_AND = r"(?:and|und|et|y|e|og|och|en|i)"
_NAME_SPLIT = re.compile(rf"\s*,\s*(?:{_AND}\s+|&\s*)?|\s*/\s+|\s+/\s*|\s+{_AND}\s+|\s*&\s*", re.I)
_LOCATION = re.compile(
    r"\s+(?:in|from|reporting from|aus|à)\s+(?P<place>[A-ZÀ-Þ][\w.'’ -]*)$", re.UNICODE
)
_ROLE_WORDS_TEXT = """
    correspondent correspondents reporter reporters writer writers editor editors columnist
    columnists contributor contributors contributing analyst producer producers photographer
    photographers staff chief bureau director professor researcher fellow intern senior special
    political foreign deputy managing executive associate assistant national international
    economics business science sports culture technology health desk critic host anchor
    journalist journalists author authors president ceo founder lecturer scientist coordinator
    manager head officer spokesperson spokesman spokeswoman reporting redakteur redakteurin
    korrespondent korrespondentin autorin redaktion rédacteur rédactrice journaliste
    envoyé envoyée spécial spéciale corresponsal redactor redactora periodista giornalista
    inviato inviata phd md dr prof
    """
_ROLE_WORDS = frozenset(_ROLE_WORDS_TEXT.split())
_ROLE_SUFFIX = re.compile(
    r"\s+(?:(?:senior|chief|special|staff|political|foreign|contributing|deputy)\s+)*"
    r"(?:staff\s+writers?|staff\s+reporters?|correspondents?|reporters?|writers?|"
    r"columnists?|contributors?|editors?|redakteur(?:in)?|autor(?:in)?|korrespondent(?:in)?"
    r"|journalist(?:in)?|rédacteur|rédactrice|journaliste|correspondant(?:e)?|redactora?"
    r"|periodista)$",
    re.I,
)
_DESK_WORDS_TEXT = (
    "redaktion staff newsroom editorial team webteam desk redacción rédaction redazione"
)
_DESK_WORDS = frozenset(_DESK_WORDS_TEXT.split())
_JUNK_NAMES = frozenset(
    {
        "weitere beiträge",
        "alle beiträge",
        "all posts",
        "more posts",
        "view all posts",
        "more articles",
        "alle artikel",
        "all articles",
        "publiziert",
        "veröffentlicht",
        "published",
        "mehr",
        "more",
        "posts",
        "articles",
    }
)
_DOMAIN = re.compile(r"\w\.(?:com|net|org|info|de|at|ch|fr|it|es|uk|io|news)$", re.I)
_MID_MARKER = re.compile(r"^(?:\S+\s+){1,3}?(?:By|BY|Von|VON|Par|PAR|Por|POR)\s+(?=[A-ZÀ-Þ])")
_PARTICLES_TEXT = (
    "van von der den de del della di da das do dos du la le les bin ibn al el y e ter ten zu"
)
_PARTICLES = frozenset(_PARTICLES_TEXT.split())
_NOT_NAMES_TEXT = """
    admin administrator wordpressadmin user guest webmaster root null none unknown anonymous
    anonym share print email comments comment home news by von par por door
    """
_NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())
_TOKEN = re.compile(r"^[^\W\d_][\w.'’-]*$", re.UNICODE)


def _title_case_token(token: str, first: bool) -> str:
    lower = token.lower()
    if not first and lower in _PARTICLES:
        return lower
    parts = re.split(r"([-'’])", lower)
    out = "".join(p[:1].upper() + p[1:] for p in parts)
    if out.startswith("Mc") and len(out) > 2:
        out = "Mc" + out[2].upper() + out[3:]
    return out


def normalize_case(name: str) -> str:
    """`JANE DOE`, `jane doe` and `Jean DUPONT` become `Jane Doe`, `Jane Doe`, `Jean Dupont`;
    in a mixed-case name short capitals are kept as acronyms (`HLNF Staff`), and initials
    (`J.R.`) as written."""
    letters = [c for c in name if c.isalpha()]
    all_lower = bool(letters) and all(c.islower() for c in letters)
    if letters and all(c.isupper() for c in letters):
        return " ".join(_title_case_token(t, i == 0) for i, t in enumerate(name.split()))
    tokens = name.split()
    out = []
    for i, token in enumerate(tokens):
        token_letters = [c for c in token if c.isalpha()]
        shouting = len(token_letters) >= 5 and all(c.isupper() for c in token_letters)
        out.append(_title_case_token(token, i == 0) if shouting or all_lower else token)
    return " ".join(out)


def _is_role(text: str) -> bool:
    words = re.findall(r"[^\W\d_]+", text.casefold())
    if not words:
        return False
    if text.casefold().startswith(("for ", "special to ", "für ", "pour ")):
        return True
    return sum(w in _ROLE_WORDS for w in words) >= max(1, len(words) // 2)


def _reads_as_prose(part: str) -> bool:
    tokens = part.split()
    lower = [t for t in tokens if t[:1].islower() and t.casefold() not in _PARTICLES]
    return len(tokens) > 6 or len(lower) >= 2 or any(c.isdigit() for c in part)


def _is_desk(name: str) -> bool:
    """`Redaktion`, `HLNF Staff Report`, `PETA-Team`: a desk credited instead of a person."""
    return any(w in _DESK_WORDS for w in re.findall(r"[^\W\d_]+", name.casefold()))


def looks_like_name(text: str) -> bool:
    """One to six name-like tokens, capitalised (after case normalisation), no digits, no
    web address, not a link label (`More posts`)."""
    tokens = text.split()
    if not 1 <= len(tokens) <= 6 or text.casefold() in _NOT_NAMES | _JUNK_NAMES:
        return False
    if any(_DOMAIN.search(t) for t in tokens):
        return False
    if len(tokens) == 1 and len(text) <= 3:
        return False
    if _is_desk(text):
        return len(tokens) <= 5
    if not all(_TOKEN.match(t) for t in tokens):
        return False
    capitalised = [t for t in tokens if t[0].isupper()]
    lower = [t for t in tokens if not t[0].isupper() and t.casefold() not in _PARTICLES]
    return bool(capitalised) and not lower


def _clean(text: str) -> str:
    text = _URL.sub(" ", _EMAIL.sub(" ", text))
    text = _HANDLE.sub(" ", text)
    text = " ".join(text.split()).strip(" ,;:|-–—")
    kept: list[str] = []
    for segment in _SEGMENT.split(text):
        date = _DATE_START.search(segment)
        segment = segment[: date.start()] if date else segment
        segment = _DANGLING.sub("", segment.strip(" ,;:|-–—")).strip(" ,;:|-–—")
        if segment:
            kept.append(segment)
        if date and kept:
            break
    text = " ".join(kept)
    text = _MID_MARKER.sub("", text)
    previous = None
    while text != previous:
        previous = text
        text = _LABEL.sub("", _LOWER_PREFIX.sub("", _PREFIX.sub("", text))).strip(" ,;:")
    return text


def _split_trailing_agency(part: str) -> tuple[str, str | None]:
    """`JANE DOE Associated Press` → (`JANE DOE`, `AP`). Agencies of three letters or fewer
    must be written exactly as agencies write them, so a surname like `Pa` is not taken."""
    tokens = part.split()
    for size in (3, 2, 1):
        if len(tokens) <= size:
            continue
        tail = " ".join(tokens[-size:])
        agency = agency_name(tail)
        if agency and (len(tail) > 3 or tail in (agency, agency.upper())):
            return " ".join(tokens[:-size]), agency
    return part, None


def _parse_group(group: str) -> tuple[list[Author], str | None]:
    """Authors of one `;` group, and an agency named in it without a person. A group with as
    many unreadable parts as names is prose, not a byline, and gives nothing."""
    authors: list[Author] = []
    group_agency = None
    for inner in _PARENS.findall(group):
        if agency := agency_name(inner):
            group_agency = agency
    group = _PARENS.sub(" ", group)
    unlocated_from = 0
    unreadable = 0
    for raw_part in _NAME_SPLIT.split(group):
        part = raw_part.strip(" .,:")
        if not part:
            continue
        location = None
        match = _LOCATION.search(part)
        if match and len(match.group("place").split()) <= 4:
            location, part = match.group("place").strip(" ."), part[: match.start()].strip()
        part, trailing_agency = _split_trailing_agency(part)
        if agency := agency_name(part):
            if authors and authors[-1].agency is None:
                authors[-1].agency = agency
            else:
                group_agency = agency
        elif authors and _is_role(part):
            plural = part.endswith("s") and len(authors) > 1
            for author in authors if plural else authors[-1:]:
                author.role = author.role or part
        elif authors and part and len(part.split()) == 1 and part[0].isupper() and not location:
            authors[-1].location = authors[-1].location or part
        else:
            name = _ROLE_SUFFIX.sub("", part)
            role = part[len(name) :].strip() or None
            name = normalize_case(name)
            if name.startswith("The "):
                pass
            elif looks_like_name(name) and (not _is_role(name) or _is_desk(name)):
                authors.append(Author(name=name, role=role, agency=trailing_agency))
            elif _reads_as_prose(part):
                unreadable += 1
        if location:
            for author in reversed(authors[unlocated_from:]):
                if author.location or (author.role and author is not authors[-1]):
                    break
                author.location = location
            unlocated_from = len(authors)
    if unreadable >= max(1, len(authors)):
        return [], None
    if group_agency:
        for author in authors:
            author.agency = author.agency or group_agency
    return authors, group_agency if not authors else None


def parse_byline(text: str) -> list[Author]:
    """Structured authors from one byline string; [] when it names no one."""
    text = _clean(text)
    if not text or len(text) > 300:
        return []
    authors: list[Author] = []
    for group in re.split(r"\s*;\s*", text):
        found, agency = _parse_group(group)
        authors.extend(found)
        if agency and not any(a.name == agency for a in authors):
            authors.append(Author(name=agency, agency=agency))
    unique: dict[str, Author] = {}
    for author in authors:
        unique.setdefault(author.name.casefold(), author)
    return list(unique.values())
