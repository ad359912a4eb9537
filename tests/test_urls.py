from __future__ import annotations

import pytest

from newsdesk.urls import article_id, normalize_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Example.COM/a/b", "https://example.com/a/b"),
        ("https://example.com/a/b/", "https://example.com/a/b"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com:443/x", "https://example.com/x"),
        ("http://example.com:8080/x", "http://example.com:8080/x"),
        ("https://example.com/x?utm_source=x&utm_medium=y#top", "https://example.com/x"),
        ("https://example.com/x?id=3&fbclid=abc&page=2", "https://example.com/x?id=3&page=2"),
        ("https://example.com/x#section", "https://example.com/x"),
    ],
)
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


def test_tracking_parameters_and_fragments_do_not_change_the_id() -> None:
    base = "http://127.0.0.1:8000/politics/story.html"
    assert article_id(base) == article_id(base + "?utm_source=x#top")
    assert article_id(base) != article_id(base + "?page=2")
