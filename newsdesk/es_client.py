"""One place that turns settings into an Elasticsearch client."""

from __future__ import annotations

from elasticsearch import Elasticsearch

from newsdesk.errors import ElasticsearchUnavailable
from newsdesk.settings import Settings


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


def connect(settings: Settings, url: str | None = None) -> Elasticsearch:
    kwargs: dict[str, object] = {"request_timeout": settings.es_request_timeout}
    if settings.es_api_key:
        kwargs["api_key"] = settings.es_api_key.get_secret_value()
    elif settings.es_username and settings.es_password:
        kwargs["basic_auth"] = (settings.es_username, settings.es_password.get_secret_value())
    if settings.es_ca_file:
        kwargs["ca_certs"] = str(settings.es_ca_file)
    return Elasticsearch(url or resolve_url(settings), **kwargs)  # type: ignore[arg-type]
