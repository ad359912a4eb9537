"""The newsdesk error hierarchy.

Every error says whether trying again can help, so flows retry only what is transient::

    NewsdeskError
    ├── ConfigError              bad settings or feeds.yaml; names the file, line and field
    ├── TransientError           retry may succeed (timeouts, connection errors, 408/429/5xx)
    │   ├── FetchTimeout         the overall deadline of one request passed
    │   ├── FetchConnectError    no connection, or it broke mid-response
    │   └── TransientHTTPStatus  408, 425, 429 or 5xx (carries Retry-After when given)
    └── PermanentError           give up: the same request will fail the same way
        ├── PermanentHTTPStatus  404, 410 and other final 4xx
        ├── BlockedURL           scheme, address or robots.txt forbids the request
        ├── TooLarge             the decoded body passed the byte cap
        ├── TooManyRedirects     the redirect limit was reached
        ├── NotHTML              the response is not a web page
        ├── FeedError            the bytes are not a usable feed
        └── NotAnArticle         a page that holds no article (empty, home page, 404 page)

Elasticsearch problems keep the official client's own exceptions; `ElasticsearchUnavailable`
wraps start-up failures of the local node.
"""

from __future__ import annotations


class NewsdeskError(Exception):
    """Base class; `reason` is a short human-readable explanation."""

    transient = False

    def __init__(self, reason: str, *, url: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.url = url

    def __str__(self) -> str:
        return f"{self.reason} ({self.url})" if self.url else self.reason


class ConfigError(NewsdeskError):
    pass


class ElasticsearchUnavailable(NewsdeskError):
    pass


class TransientError(NewsdeskError):
    transient = True


class FetchTimeout(TransientError):
    pass


class FetchConnectError(TransientError):
    pass


class TransientHTTPStatus(TransientError):
    def __init__(
        self, reason: str, *, url: str | None = None, status: int, retry_after: float | None = None
    ) -> None:
        super().__init__(reason, url=url)
        self.status = status
        self.retry_after = retry_after


class PermanentError(NewsdeskError):
    pass


class PermanentHTTPStatus(PermanentError):
    def __init__(self, reason: str, *, url: str | None = None, status: int) -> None:
        super().__init__(reason, url=url)
        self.status = status


class BlockedURL(PermanentError):
    pass


class TooLarge(PermanentError):
    pass


class TooManyRedirects(PermanentError):
    pass


class NotHTML(PermanentError):
    pass


class FeedError(PermanentError):
    pass


class NotAnArticle(PermanentError):
    pass


def is_transient(exc: BaseException) -> bool:
    """True when retrying the operation that raised `exc` may succeed."""
    return isinstance(exc, NewsdeskError) and exc.transient
