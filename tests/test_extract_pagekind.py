"""Page kinds on small pages written for the test: photo galleries are not articles, news
stories with big photos are; a single post served at a site's root is an article, a front page
of teasers is not."""

from __future__ import annotations

from datetime import date

import pytest

from extractors.article import extract_article
from newsdesk.errors import NotAnArticle

PARAGRAPH = (
    "<p>The harbour ferries will be replaced with electric boats by the end of the decade, "
    "the council confirmed on Tuesday after a long debate about the cost of the new fleet "
    "and the charging stations it needs at both piers.</p>"
)


def _page(body: str, head: str = "") -> bytes:
    return (
        "<!DOCTYPE html><html lang='en'><head><title>Harbour Times</title>"
        f"{head}</head><body><header><a href='/'>Harbour Times</a><nav>"
        + "".join(f"<a href='/section-{n}/'>Section {n} news and more</a> " for n in range(30))
        + f"</nav></header>{body}<footer><p>© Harbour Times</p></footer></body></html>"
    ).encode()


def _figures(n: int, link: bool = False) -> str:
    def img(i: int) -> str:
        tag = f"<img src='/photos/ferry-{i}.jpg' alt=''>"
        return f"<a href='/photos/ferry-{i}-large.jpg'>{tag}</a>" if link else tag

    return "".join(
        f"<figure>{img(i)}<figcaption>Ferry number {i} at the pier</figcaption></figure>"
        for i in range(n)
    )


GALLERY = _page(f"<main><h1>In pictures: the last diesel ferries</h1>{_figures(12)}</main>")
ARTICLE_WITH_PHOTOS = _page(
    "<main><article><h1>Ferries go electric</h1>"
    + _figures(6)
    + PARAGRAPH * 4
    + "</article></main>"
)
OG_ARTICLE = "<meta property='og:type' content='article'>"


def test_gallery_is_not_an_article() -> None:
    with pytest.raises(NotAnArticle, match="photo gallery") as caught:
        extract_article(GALLERY, "https://harbour.test/2024/05/02/last-diesel-ferries.html")
    assert "12 images" in caught.value.reason


def test_lightbox_gallery_is_not_an_article() -> None:
    page = _page(
        "<div id='content'><h1>In pictures: the last diesel ferries</h1>"
        f"<div class='slides'>{_figures(8, link=True)}</div></div>"
    )
    with pytest.raises(NotAnArticle, match="photo gallery"):
        extract_article(page, "https://harbour.test/2024/05/02/last-diesel-ferries.html")


def test_story_with_big_photos_is_an_article() -> None:
    fields = extract_article(ARTICLE_WITH_PHOTOS, "https://harbour.test/2024/05/02/ferries.html")
    assert "charging stations" in fields.body


def test_short_story_beside_photo_teasers_is_an_article() -> None:
    teasers = "".join(
        f"<a href='/2024/05/0{n}/story-{n}.html'><img src='/img/t{n}.jpg' alt=''></a>"
        for n in range(9)
    )
    page = _page(f"<div id='page'><h1>Ferries go electric</h1>{PARAGRAPH * 2}{teasers}</div>")
    fields = extract_article(page, "https://harbour.test/2024/05/02/ferries.html")
    assert "charging stations" in fields.body


def test_photo_story_declared_an_article_stays_one_unless_it_calls_itself_a_gallery() -> None:
    page = _page(
        f"<main><h1>A week on the ferries</h1><p>Our photographer rode along.</p>"
        f"{_figures(10)}</main>",
        head=OG_ARTICLE,
    )
    fields = extract_article(page, "https://harbour.test/2024/05/02/a-week-on-the-ferries")
    assert fields.title == "A week on the ferries"
    with pytest.raises(NotAnArticle, match="photo gallery"):
        extract_article(page, "https://harbour.test/gallery/2024/05/02/a-week-on-the-ferries")


def test_single_post_at_the_site_root_is_an_article() -> None:
    page = (
        "<!DOCTYPE html><html lang='en'><head><title>Home</title></head><body><main>"
        "<article><h1>Time to say goodbye</h1>"
        f"{PARAGRAPH * 4}<p>Jo, <time datetime='2017-09-10'>10 September 2017</time></p>"
        "</article></main><footer><a href='/privacy'>Privacy</a></footer></body></html>"
    ).encode()
    fields = extract_article(page, "https://jo-blog.test/")
    assert fields.title == "Time to say goodbye"
    assert fields.published_at is not None
    assert fields.published_at.date() == date(2017, 9, 10)


def test_front_page_of_teasers_at_the_root_is_not_an_article() -> None:
    teasers = "".join(
        f"<article><h2><a href='/2024/05/02/story-{n}.html'>Story {n}</a></h2>{PARAGRAPH}</article>"
        for n in range(6)
    )
    with pytest.raises(NotAnArticle, match="home page"):
        extract_article(_page(f"<main>{teasers}</main>"), "https://harbour.test/")


def test_lead_story_beside_teaser_headlines_at_the_root_is_not_an_article() -> None:
    teasers = "".join(
        f"<h3><a href='/2024/05/02/story-{n}.html'>Story {n}</a></h3>" for n in range(6)
    )
    page = _page(f"<main><article><h1>Lead</h1>{PARAGRAPH * 4}</article>{teasers}</main>")
    with pytest.raises(NotAnArticle, match="home page"):
        extract_article(page, "https://harbour.test/")
