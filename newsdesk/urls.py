"""URL identity: one normalised form per article, and a deterministic document id from it."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "_hs", "hsa_", "oly_", "vero_")
_TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "mkt_tok",
        "ref_src",
        "cmpid",
        "ncid",
        "ocid",
        "smid",
        "share",
        "s_cid",
        "ito",
        "at_medium",
        "at_campaign",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(key: str) -> bool:
    lowered = key.lower()
    return lowered in _TRACKING_PARAMS or lowered.startswith(_TRACKING_PREFIXES)


def normalize_url(url: str) -> str:
    """Lower-case scheme and host, drop default ports, fragments, tracking parameters and the
    trailing slash of non-root paths; keep the order of the remaining query parameters."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.port and parts.port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{parts.port}"
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)]
    )
    return urlunsplit((scheme, host, path, query, ""))


def article_id(url: str) -> str:
    """The document id: a hash of the normalised URL, so every route to an article is one doc."""
    return hashlib.sha256(normalize_url(url).encode("utf-8")).hexdigest()[:32]
