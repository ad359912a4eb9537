"""The dateline that opens a wire story: `TOKYO (Kyodo) --`, `LONDON, Oct 30 (Reuters) -`.

`place` is title-cased (`Tokyo`, `New York`, `Washington, D.C.`) so it compares with author
locations, which bylines write in title case; `raw` keeps the dateline exactly as printed.
The dateline stays at the start of the first body paragraph, as agencies print it; only a
paragraph that holds nothing but the dateline is folded into the paragraph after it.
"""

from __future__ import annotations

import re

from extractors.agencies import agency_name
from newsdesk.models import Dateline

_CAPS_WORD = r"[A-ZÀ-Þ](?:[A-ZÀ-Þ.'’]|-(?=[A-ZÀ-Þ]))+"
_CAPS_PLACE = rf"{_CAPS_WORD}(?:[ /]{_CAPS_WORD}){{0,3}}"
_REGION = r"(?:,\s*[A-ZÀ-Þ][\w.]*(?:\s[A-ZÀ-Þ][\w.]*)?)?"
_DATE = r"(?:,?\s*(?:[A-Z][a-z]{2,8}\.?\s+\d{1,2}|\d{1,2}\.?\s+[A-Z][a-z]{2,8}\.?))?"
_AGENCY = r"\s*\((?P<agency>[^()]{2,40})\)"
_DASH = r"\s*(?:--|—|–|-)\s*"
_AGENCY_DASH = r"\s*(?:--|—|–|-|:)\s*"
_NEXT = r"(?=[^\s\-–—:])"

_WIRE = re.compile(rf"^(?P<place>{_CAPS_PLACE}{_REGION}){_DATE}(?:{_AGENCY})?{_DASH}{_NEXT}")
_TITLE_PLACE = r"[A-ZÀ-Þ][\w.'’]+(?:[ /-][A-ZÀ-Þ][\w.'’]+){0,2}"
_CAPITALISED = re.compile(rf"^(?P<place>{_TITLE_PLACE}){_DATE}{_AGENCY}{_AGENCY_DASH}{_NEXT}")
_ONLY_DATELINE = re.compile(rf"^(?P<place>{_CAPS_PLACE}{_REGION}){_DATE}(?:{_AGENCY})?{_DASH}$")
_KEEP_CASE = re.compile(r"^(?:[A-Z]\.)+$")


def _title_place(place: str) -> str:
    words = []
    for word in place.split(" "):
        if _KEEP_CASE.match(word) or not word.isupper():
            words.append(word)
        else:
            words.append("-".join(p.capitalize() for p in word.split("-")))
    return "/".join(
        part[:1].upper() + part[1:] if part else part for part in " ".join(words).split("/")
    )


def _dateline(match: re.Match[str]) -> Dateline | None:
    place = match.group("place").strip(" ,")
    letters = re.sub(r"[^A-Za-zÀ-ÿ]", "", place.split(",")[0])
    if len(letters) < 3:
        return None
    raw_agency = match.groupdict().get("agency")
    agency = (agency_name(raw_agency) or raw_agency.strip()) if raw_agency else None
    return Dateline(place=_title_place(place), agency=agency, raw=match.group(0).strip())


def parse_dateline(paragraph: str) -> Dateline | None:
    """The dateline at the start of `paragraph`, or None."""
    text = paragraph.lstrip()
    match = _ONLY_DATELINE.match(text.rstrip()) or _WIRE.match(text) or _CAPITALISED.match(text)
    return _dateline(match) if match else None


def is_dateline_only(paragraph: str) -> bool:
    return bool(_ONLY_DATELINE.match(paragraph.strip()))
