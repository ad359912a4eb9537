"""The one entry point that composes the per-field extractors."""

from __future__ import annotations

from newsdesk.models import ArticleFields


def extract_article(page: bytes | str, url: str, *, charset: str | None = None) -> ArticleFields:
    """Extract every field from one page. Raises `NotAnArticle` (never anything else) when the
    page holds no article."""
    raise NotImplementedError
