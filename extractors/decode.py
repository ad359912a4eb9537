"""Page bytes to text: the charset the server declared, else the page's own, else a guess.

Servers often declare a charset that does not match the bytes (typically `iso-8859-1` for a
UTF-8 page), so a declaration is trusted only when the bytes decode under it, and bytes that
are (nearly all) valid multi-byte UTF-8 are read as UTF-8 whatever the declaration says: a
text in another encoding that happens to be valid multi-byte UTF-8 is far rarer than a wrong
declaration.
"""

from __future__ import annotations

import codecs
import re
from typing import NamedTuple

from charset_normalizer import from_bytes

from newsdesk.errors import NotAnArticle

MAX_PAGE_BYTES = 5 * 1024 * 1024

_BINARY_SIGNATURES = {
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"GIF8": "a GIF image",
    b"\xff\xd8\xff": "a JPEG image",
    b"RIFF": "a RIFF media file",
    b"PK\x03\x04": "a ZIP archive",
    b"\x1f\x8b": "gzip-compressed data",
    b"BZh": "bzip2-compressed data",
    b"\x28\xb5\x2f\xfd": "zstd-compressed data",
    b"ID3": "an MP3 file",
    b"\x00\x00\x00": "binary data",
    b"OggS": "an Ogg media file",
    b"wOFF": "a web font",
}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_:.\-]+)""", re.I)
_CONTROL_BYTES = bytes(sorted(frozenset(range(32)) - {9, 10, 12, 13, 27}))
# WHATWG: these labels mean windows-1252 on the web, which also defines 0x80-0x9F.
_SINGLE_BYTE_WEB_ALIASES = {"latin-1": "cp1252", "iso8859-1": "cp1252", "ascii": "cp1252"}


# Encodings web pages actually use: among guesses that fit the bytes about as well, these
# win over rare code pages (a German cp1252 page otherwise comes out as DOS-Baltic cp775).
_WEB_ENCODINGS = frozenset(
    {
        "cp1252",
        "cp1250",
        "cp1251",
        "cp1253",
        "cp1254",
        "cp1255",
        "cp1256",
        "cp1257",
        "iso8859_15",
        "iso8859_2",
        "iso8859_7",
        "koi8_r",
        "shift_jis",
        "cp932",
        "euc_jp",
        "gb18030",
        "gb2312",
        "gbk",
        "big5",
        "euc_kr",
        "cp949",
        "tis_620",
        "cp874",
    }
)


class Decoded(NamedTuple):
    text: str
    encoding: str
    method: str


def _codec(label: str | None) -> str | None:
    """The Python codec name for a charset label, or None for an unknown label."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'").lower()).name
    except LookupError:
        return None
    return _SINGLE_BYTE_WEB_ALIASES.get(name, name)


def check_not_binary(data: bytes) -> None:
    """Raise `NotAnArticle` for bytes that are plainly not a text document."""
    head = data[:4096]
    for signature, what in _BINARY_SIGNATURES.items():
        if head.startswith(signature):
            raise NotAnArticle(f"the page is {what}, not HTML")
    if any(data.startswith(bom) for bom, _ in _BOMS):
        return
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if b"\x00" in head or controls > len(head) * 0.02:
        raise NotAnArticle("the page is binary data, not HTML")


def _strict(data: bytes, codec: str) -> str | None:
    """Decode strictly, forgiving only a multi-byte character cut off at the very end."""
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 4 and exc.reason.startswith("unexpected end"):
            return data[: exc.start].decode(codec, errors="replace")
        return None
    except LookupError:
        return None


def _as_utf8(data: bytes) -> str | None:
    """The bytes as UTF-8 when they are UTF-8, tolerating a few stray bytes (a page pasted
    together from sources) but not text in a single-byte encoding, which fails on every
    accented letter and so has few or no valid multi-byte sequences."""
    strict = _strict(data, "utf-8")
    if strict is not None:
        return strict
    lenient = data.decode("utf-8", errors="replace")
    bad = lenient.count("\ufffd")
    multibyte = len(lenient) - len(lenient.encode("ascii", "ignore")) - bad
    return lenient if bad * 20 < multibyte else None


def decode_page(data: bytes, charset: str | None = None) -> Decoded:
    """Decode page bytes; `charset` is the one the HTTP response declared, if any."""
    for bom, bom_codec in _BOMS:
        if data.startswith(bom):
            return Decoded(data.decode(bom_codec, errors="replace"), bom_codec, "bom")
    utf8 = _as_utf8(data)
    has_multibyte = utf8 is not None and len(utf8) != len(data)
    match = _META_CHARSET.search(data[:4096])
    declarations = (
        ("http", _codec(charset)),
        ("meta", _codec(match.group(1).decode("ascii", "ignore")) if match else None),
    )
    for method, codec in declarations:
        if codec is None:
            continue
        if has_multibyte and codec != "utf-8":
            return Decoded(utf8 or "", "utf-8", f"utf-8-over-{method}")
        decoded = utf8 if codec == "utf-8" else _strict(data, codec)
        if decoded is not None:
            return Decoded(decoded, codec, method)
    if utf8 is not None:
        return Decoded(utf8, "utf-8", "utf-8-valid")
    sample = data if len(data) < 20000 else data[:10000] + data[-10000:]
    guesses = [r.encoding for r in from_bytes(sample) if r.encoding]
    if guesses:
        guess = next((g for g in guesses if g in _WEB_ENCODINGS), guesses[0])
        return Decoded(data.decode(guess, errors="replace"), guess, "detected")
    return Decoded(data.decode("cp1252", errors="replace"), "cp1252", "fallback")
