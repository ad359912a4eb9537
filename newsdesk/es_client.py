"""One place that turns settings into an Elasticsearch client, and its failures into one line.

TLS is always verified: against `NEWSDESK_ES_CA_FILE`, the pinned `NEWSDESK_ES_SSL_FINGERPRINT`,
or the system's trust store. There is no setting that turns verification off, so a wrong or
missing CA fails loudly instead of falling back to an unverified connection.
"""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit, urlunsplit

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, TlsError, TransportError
from elasticsearch import ApiError, Elasticsearch

from newsdesk.errors import ConfigError, ElasticsearchUnavailable
from newsdesk.settings import Settings

_URL_HINT = "check NEWSDESK_ES_URL or run `newsdesk es start`"
_CREDENTIALS = "NEWSDESK_ES_USERNAME/NEWSDESK_ES_PASSWORD or NEWSDESK_ES_API_KEY"


def resolve_url(settings: Settings) -> str:
    """`NEWSDESK_ES_URL` when set, else the local node started by `newsdesk es start`."""
    if settings.es_url:
        return settings.es_url
    from newsdesk import es_node

    info = es_node.status(settings)
    if info is None:
        raise ElasticsearchUnavailable(
            "no Elasticsearch configured: set NEWSDESK_ES_URL or run `newsdesk es start`"
        )
    return info.url


def redact_url(url: str) -> str:
    """`url` without a password in its user info, so it can be printed and logged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparseable URL)"
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:**********@{host}"))


def connect(settings: Settings, url: str | None = None) -> Elasticsearch:
    """A client for `url` (default: `resolve_url`); TLS settings are checked before use."""
    target = url or resolve_url(settings)
    kwargs: dict[str, object] = {
        "request_timeout": settings.es_request_timeout,
        "verify_certs": True,
    }
    if settings.es_api_key:
        kwargs["api_key"] = settings.es_api_key.get_secret_value()
    elif settings.es_username and settings.es_password:
        kwargs["basic_auth"] = (settings.es_username, settings.es_password.get_secret_value())
    if settings.es_ca_file and settings.es_ssl_fingerprint:
        raise ConfigError(
            "both NEWSDESK_ES_CA_FILE and NEWSDESK_ES_SSL_FINGERPRINT are set: trust the "
            "certificate by one of them only"
        )
    if (settings.es_ca_file or settings.es_ssl_fingerprint) and not target.startswith("https:"):
        raise ConfigError(
            f"NEWSDESK_ES_URL={redact_url(target)} is not https:// although a CA or certificate "
            "fingerprint is configured, so nothing would be verified: use the https:// URL"
        )
    if settings.es_ca_file:
        if not settings.es_ca_file.is_file():
            raise ConfigError(
                f"NEWSDESK_ES_CA_FILE={settings.es_ca_file}: no such file; point it at the PEM "
                "of the CA that signed Elasticsearch's certificate"
            )
        kwargs["ca_certs"] = str(settings.es_ca_file)
    if settings.es_ssl_fingerprint:
        kwargs["ssl_assert_fingerprint"] = settings.es_ssl_fingerprint.replace(":", "").lower()
    return Elasticsearch(target, **kwargs)  # type: ignore[arg-type]


def ensure_reachable(settings: Settings) -> None:
    """Fail now, with `explain`'s one line, if the cluster cannot be reached or refuses us.

    For commands that would otherwise find out late (after starting Prefect, say). A 403 means
    we got in but may not read cluster health, which is enough here.
    """
    client = connect(settings)
    try:
        client.options(ignore_status=403).cluster.health(timeout="5s")
    except (ApiError, TransportError) as exc:
        raise explain(exc, settings) from None
    finally:
        client.close()


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and every error behind it (`errors`, `__cause__`, `__context__`), without loops."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [e for e in getattr(current, "errors", ()) if isinstance(e, BaseException)]
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]
        todo += [e for e in getattr(current, "args", ()) if isinstance(e, BaseException)]
    return seen


def _root_reason(exc: BaseException) -> str:
    for err in _chain(exc):
        if isinstance(err, OSError) and err.strerror:
            return err.strerror.lower()
    for err in reversed(_chain(exc)):
        text = str(err).strip()
        if text:
            return text.splitlines()[0][:200]
    return type(exc).__name__


def _tls_message(exc: TlsError, url: str, settings: Settings) -> str:
    chain = _chain(exc)
    verify = next((e for e in chain if isinstance(e, ssl.SSLCertVerificationError)), None)
    if verify is not None:
        why = verify.verify_message or verify.reason or "certificate verify failed"
        if settings.es_ca_file:
            fix = (
                f"it is not signed by the CA in NEWSDESK_ES_CA_FILE={settings.es_ca_file}; "
                "point that at the CA that signed the cluster's certificate"
            )
        else:
            fix = (
                "set NEWSDESK_ES_CA_FILE to the PEM of the CA that signed it "
                "(or pin it with NEWSDESK_ES_SSL_FINGERPRINT)"
            )
        return f"the TLS certificate of Elasticsearch at {url} is not trusted ({why}): {fix}"
    if any("fingerprint" in str(e).lower() for e in chain):
        return (
            f"the TLS certificate of Elasticsearch at {url} does not match "
            "NEWSDESK_ES_SSL_FINGERPRINT: check the pinned fingerprint"
        )
    return (
        f"TLS handshake with Elasticsearch at {url} failed ({_root_reason(exc)}): "
        "check that the cluster serves HTTPS on that port"
    )


def _api_message(exc: ApiError, url: str, settings: Settings) -> str:
    status = exc.meta.status
    if status == 401:
        if settings.es_api_key:
            used = "NEWSDESK_ES_API_KEY"
        elif settings.es_username and settings.es_password:
            used = "NEWSDESK_ES_USERNAME/NEWSDESK_ES_PASSWORD"
        else:
            return f"Elasticsearch at {url} requires authentication (401): set {_CREDENTIALS}"
        return f"Elasticsearch at {url} refused the credentials (401): check {used}"
    reason = ""
    if isinstance(exc.body, dict) and isinstance(exc.body.get("error"), dict):
        error = exc.body["error"]
        reason = f"{error.get('type', '')}: {error.get('reason', '')}".strip(": ")
    reason = " ".join((reason or str(exc.message)).split())[:300]
    if status == 403:
        return f"Elasticsearch at {url} denied the request (403: {reason}): grant the user access"
    return f"Elasticsearch at {url} answered {status}: {reason}"


def explain(exc: ApiError | TransportError, settings: Settings) -> ElasticsearchUnavailable:
    """The client's error as one line that names the problem and how to fix it."""
    url = redact_url(settings.es_url) if settings.es_url else "the local node"
    if isinstance(exc, ApiError):
        message = _api_message(exc, url, settings)
    elif isinstance(exc, TlsError):
        message = _tls_message(exc, url, settings)
    elif isinstance(exc, ConnectionTimeout):
        message = (
            f"Elasticsearch at {url} did not answer within {settings.es_request_timeout:g} s: "
            f"{_URL_HINT}, or raise NEWSDESK_ES_REQUEST_TIMEOUT"
        )
    elif isinstance(exc, TransportConnectionError):
        reason = _root_reason(exc)
        hint = _URL_HINT
        if settings.es_url and settings.es_url.startswith("http:") and "refused" not in reason:
            hint += " (if the cluster serves HTTPS, use https://)"
        message = f"cannot reach Elasticsearch at {url}: {reason}; {hint}"
    else:
        message = f"Elasticsearch at {url} failed: {_root_reason(exc)}"
    return ElasticsearchUnavailable(message)
