from __future__ import annotations

import pytest

from newsdesk.urls import article_id, normalize_url, same_site, site_of


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Example.COM/a/b", "https://example.com/a/b"),
        ("https://example.com/a/b/", "https://example.com/a/b"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com:443/x", "https://example.com/x"),
        ("http://example.com:80/x", "http://example.com/x"),
        ("http://example.com:8080/x", "http://example.com:8080/x"),
        ("https://example.com/x?utm_source=x&utm_medium=y#top", "https://example.com/x"),
        ("https://example.com/x?id=3&fbclid=abc&page=2", "https://example.com/x?id=3&page=2"),
        ("https://example.com/x#section", "https://example.com/x"),
        # parameter order never names another page; repeated keys keep their order
        ("https://example.com/x?b=2&a=1&a=0", "https://example.com/x?a=1&a=0&b=2"),
        # parameters that courlan's tracker pattern would drop but that name articles
        ("https://example.com/x?cid=5&gallery=2", "https://example.com/x?cid=5&gallery=2"),
        ("https://example.com/x?eid=77", "https://example.com/x?eid=77"),
        ("https://example.com/a//b/./c/../d/", "https://example.com/a/b/d"),
        ("https://example.com/caf%c3%a9/%7euser", "https://example.com/caf%C3%A9/~user"),
        ("https://xn--bcher-kva.example/x", "https://bücher.example/x"),
        ("https://user:secret@Example.com/x", "https://example.com/x"),
        ("https://example.com./x", "https://example.com/x"),
        ("http://[::1]:8080/x/", "http://[::1]:8080/x"),
        # www. and m. are not stripped: only the page's canonical URL may merge them
        ("https://www.example.com/x", "https://www.example.com/x"),
        ("https://m.example.com/x", "https://m.example.com/x"),
    ],
)
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "HTTPS://Example.COM:443/a/../b/?z=1&utm_campaign=q&a=2#frag",
        "https://bücher.example/a(1)/c++",
        "http://127.0.0.1:8000/politics/story.html?utm_source=x#top",
        "https://example.com/%7e/%2f?q=a%20b",
    ],
)
def test_normalisation_is_idempotent(url: str) -> None:
    """Stored `source_url`s are looked up by their id again, so normalising twice must not
    change anything."""
    once = normalize_url(url)
    assert normalize_url(once) == once
    assert article_id(once) == article_id(url)


def test_tracking_parameters_and_fragments_do_not_change_the_id() -> None:
    base = "http://127.0.0.1:8000/politics/story.html"
    assert article_id(base) == article_id(base + "?utm_source=x#top")
    assert article_id(base) == article_id(base + "?fbclid=1&utm_medium=rss")
    assert article_id(base) != article_id(base + "?page=2")


def test_same_site_groups_subdomains_of_one_registrable_domain() -> None:
    assert same_site("https://m.example.com/a", "https://www.example.com/b")
    assert same_site("https://m.bbc.co.uk/news/1", "https://www.bbc.co.uk/news/1")
    assert site_of("https://news.bbc.co.uk/x") == "bbc.co.uk"
    assert not same_site("https://example.com/a", "https://example.org/a")
    # a public suffix is not a site: two blogs on github.io are two sites
    assert not same_site("https://alice.github.io/a", "https://bob.github.io/a")
    # addresses: the host and the port
    assert same_site("http://127.0.0.1:8000/a", "http://127.0.0.1:8000/b")
    assert not same_site("http://127.0.0.1:8000/a", "http://127.0.0.1:9000/a")
