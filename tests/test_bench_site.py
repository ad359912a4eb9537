"""The synthetic site of the benchmarks: deterministic, realistic in size, its expected counts
add up, and its server answers as a site would (robots.txt, feeds, pages, 404s, 304s)."""

from __future__ import annotations

import httpx
import pytest

from bench.site import LAYOUTS, Site, SiteSpec, expected_counts, serve
from newsdesk.feeds import parse_feed
from newsdesk.urls import normalize_url

SPEC = SiteSpec(
    articles=80,
    feeds=4,
    seed=1,
    cross_post_rate=0.1,
    syndicated_rate=0.05,
    update_rate=0.05,
    gallery_rate=0.05,
    broken_rate=0.05,
)


def test_pages_are_deterministic_and_sized_like_real_ones() -> None:
    a, b = Site(SPEC), Site(SPEC)
    for i in range(0, SPEC.articles, 7):
        page = a.page(i)
        assert page == b.page(i)
        assert 100 * 1024 * 0.9 <= len(page) <= 250 * 1024 * 1.1
        assert page.startswith(b"<!DOCTYPE html>")
    other = Site(SiteSpec(articles=80, feeds=4, seed=2))
    assert other.page(5) != a.page(5)
    assert {a.meta(i).layout for i in range(SPEC.articles)} == set(LAYOUTS)
    assert len({a.meta(i).lang for i in range(SPEC.articles)}) >= 3


def test_expected_counts_add_up() -> None:
    site = Site(SPEC)
    counts = expected_counts(SPEC)
    metas = [site.meta(i) for i in range(SPEC.articles)]
    kinds = {k: sum(m.kind == k for m in metas) for k in ("broken", "gallery", "syndicated")}
    assert counts.broken == kinds["broken"] > 0
    assert counts.galleries == kinds["gallery"] > 0
    assert counts.syndicated == kinds["syndicated"] > 0
    feed_entries = sum(len(site.feed_items(k)) for k in range(SPEC.feeds))
    assert feed_entries == counts.entries == SPEC.articles + counts.cross_posts
    assert counts.fetched + counts.broken == SPEC.articles
    assert counts.articles == SPEC.articles - sum(kinds.values())
    for m in metas:
        if m.kind in ("syndicated", "update"):
            assert site.meta(m.origin).kind == "article"
            assert m.origin < m.index


def test_syndicated_copy_names_its_original_as_canonical() -> None:
    site = Site(SPEC)
    copy = next(m for i in range(SPEC.articles) if (m := site.meta(i)).kind == "syndicated")
    assert f'<link rel="canonical" href="{site.url(copy.origin)}">'.encode() in site.page(
        copy.index
    )


def test_server_answers_like_a_site() -> None:
    with serve(SPEC) as served, httpx.Client() as client:
        site = served.site
        robots = client.get(f"{served.base_url}/robots.txt")
        assert robots.status_code == 200
        assert "Allow: /" in robots.text

        feed = client.get(site.feed_url(1))
        assert feed.headers["content-type"] == "application/rss+xml"
        entries = parse_feed(feed.content, feed_url=site.feed_url(1), source="desk-001")
        assert [normalize_url(e.link) for e in entries] == [
            normalize_url(link) for _, link in site.feed_items(1)
        ]
        again = client.get(site.feed_url(1), headers={"If-None-Match": feed.headers["etag"]})
        assert again.status_code == 304

        ok = next(i for i in range(SPEC.articles) if site.meta(i).kind == "article")
        broken = next(i for i in range(SPEC.articles) if site.meta(i).kind == "broken")
        assert served.pages_served() == 0
        page = client.get(site.url(ok))
        assert page.status_code == 200
        assert page.content == site.page(ok)
        assert client.get(site.url(broken)).status_code == 404
        assert client.get(f"{served.base_url}/politics/nowhere-a1.html").status_code == 404
        assert client.get(f"{served.base_url}/feeds/desk-999.xml").status_code == 404
        assert served.pages_served() == 1


@pytest.mark.parametrize("i", [-1, SPEC.articles])
def test_meta_outside_the_site_is_an_index_error(i: int) -> None:
    with pytest.raises(IndexError):
        Site(SPEC).meta(i)
