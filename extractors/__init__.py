"""Pure article extraction: page bytes or text in, `ArticleFields` out. No network, no index."""

from extractors.article import extract_article

__all__ = ["extract_article"]
