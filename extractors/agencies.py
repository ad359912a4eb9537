"""News agencies as bylines and datelines name them.

Recognised names are returned as the page writes them (`Associated Press` stays
`Associated Press`, `AP` stays `AP`), only shouting capitals are put into the agency's own
case (`REUTERS` → `Reuters`); `AGENCIES` maps each spelling to the agency's usual short name
for whoever needs to group them.
"""

from __future__ import annotations

import re

AGENCIES: dict[str, str] = {
    "ap": "AP",
    "associated press": "AP",
    "the associated press": "AP",
    "reuters": "Reuters",
    "thomson reuters": "Reuters",
    "afp": "AFP",
    "agence france-presse": "AFP",
    "agence france presse": "AFP",
    "kyodo": "Kyodo",
    "kyodo news": "Kyodo",
    "jiji": "Jiji Press",
    "jiji press": "Jiji Press",
    "dpa": "dpa",
    "epd": "epd",
    "kna": "KNA",
    "apa": "APA",
    "sda": "SDA",
    "ansa": "ANSA",
    "efe": "EFE",
    "europa press": "Europa Press",
    "lusa": "Lusa",
    "yonhap": "Yonhap",
    "xinhua": "Xinhua",
    "bloomberg": "Bloomberg",
    "upi": "UPI",
    "pa": "PA",
    "pa media": "PA Media",
    "press association": "PA",
    "tass": "TASS",
    "ria novosti": "RIA Novosti",
    "interfax": "Interfax",
    "anadolu": "Anadolu",
    "anadolu agency": "Anadolu",
    "aap": "AAP",
    "cp": "CP",
    "the canadian press": "CP",
    "canadian press": "CP",
    "pti": "PTI",
    "ians": "IANS",
    "ani": "ANI",
    "belga": "Belga",
    "anp": "ANP",
    "ntb": "NTB",
    "tt": "TT",
    "ritzau": "Ritzau",
    "stt": "STT",
    "ctk": "ČTK",
    "čtk": "ČTK",
    "pap": "PAP",
    "mti": "MTI",
    "sid": "SID",
    "ddp": "ddp",
    "bernama": "Bernama",
    "antara": "Antara",
    "cna": "CNA",
    "nhk": "NHK",
}
_SEPARATORS = re.compile(r"\s*[/,]\s*|\s+and\s+|\s*&\s*")


def agency_name(text: str) -> str | None:
    """`text` as written when it names one agency or several (`AP/dpa`), else None."""
    written = " ".join(text.strip().strip(".").split())
    key = written.casefold()
    if key in AGENCIES:
        usual = AGENCIES[key]
        if written.isupper() and len(written) > 3 and usual.casefold() == key:
            return usual
        return written
    parts = [p for p in _SEPARATORS.split(key) if p]
    if len(parts) > 1 and all(p in AGENCIES for p in parts):
        return written
    return None
