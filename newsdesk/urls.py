"""URL identity: one normalised form per article, and a deterministic document id from it.

What courlan (`courlan.normalize_url`) does well is delegated to it: scheme and host case,
punycode host names, the scheme's default port, fragments, duplicate slashes and escaping of
unsafe path characters. Its query cleaning is *not* used: its tracker pattern also drops
parameters that name the article on many sites (`cid`, `eid`, `source…`, `ref…`, `ga…` as in
`gallery`), and merging two articles into one document loses data, while a missed tracker only
costs a duplicate that the content hash catches. So tracking parameters are an explicit list
here, the remaining parameters are sorted (their order never names a different page), dot
segments are resolved, percent-escapes are upper-cased and a non-root trailing slash is dropped.

`www.` and `m.` are kept: many sites serve the same page there, but some do not. The page's own
canonical URL decides (see `same_site` and `newsdesk.ingest`): a link to `m.example.com/a`
whose page names `www.example.com/a` as canonical is indexed under the canonical URL.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from courlan import extract_domain
from courlan import normalize_url as courlan_normalize_url

_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "_hs", "hsa_", "oly_", "vero_", "wt_", "at_")
_TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "mkt_tok",
        "ref_src",
        "ref_url",
        "cmpid",
        "ncid",
        "ocid",
        "smid",
        "share",
        "s_cid",
        "ito",
        "xtor",
        "_ga",
        "_gl",
        "__twitter_impression",
    }
)
_PERCENT = re.compile(r"%([0-9a-fA-F]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _is_tracking(key: str) -> bool:
    lowered = key.lower()
    return lowered in _TRACKING_PARAMS or lowered.startswith(_TRACKING_PREFIXES)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4: `/a/./b/../c` → `/a/c`."""
    if "." not in path:
        return path
    out: list[str] = []
    for segment in path.split("/")[1:]:
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
    trailing = path.endswith(("/.", "/.."))
    return "/" + "/".join(out) + ("/" if trailing and out else "")


def _escape(match: re.Match[str]) -> str:
    """Upper-case a percent-escape, or decode it when it stands for an unreserved character."""
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else f"%{match.group(1).upper()}"


def _clean_query(query: str) -> str:
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if not _is_tracking(k)]
    return urlencode(sorted(pairs, key=lambda kv: kv[0]))


def normalize_url(url: str) -> str:
    """The one spelling of `url` its document id is made from (idempotent)."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").rstrip(".")
    netloc = f"[{host}]" if ":" in host else host
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None:
        netloc = f"{netloc}:{port}"
    path = _remove_dot_segments(parts.path)
    base = courlan_normalize_url(
        urlunsplit((parts.scheme, netloc, path, "", "")), strict=True, trailing_slash=False
    )
    scheme, netloc, path, _, _ = urlsplit(base)
    path = _PERCENT.sub(_escape, path) or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    return urlunsplit((scheme, netloc, path, _clean_query(parts.query), ""))


def article_id(url: str) -> str:
    """The document id: a hash of the normalised URL, so every route to an article is one doc."""
    return hashlib.sha256(normalize_url(url).encode("utf-8")).hexdigest()[:32]


def site_of(url: str) -> str:
    """The registrable domain (`m.bbc.co.uk` → `bbc.co.uk`), or host and port for addresses
    and names without a public suffix."""
    domain = extract_domain(url)
    if domain:
        return domain.lower()
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{(parts.hostname or '').lower()}:{port or ''}"


def same_site(a: str, b: str) -> bool:
    """True when two URLs belong to one site: `www.`, `m.` and other subdomains of one
    registrable domain count as the same site."""
    return site_of(a) == site_of(b)
