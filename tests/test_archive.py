"""WARC archive: records read back byte for byte, rotation, disk full, concurrent writers."""

from __future__ import annotations

import gzip
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from newsdesk.archive import (
    ArchiveError,
    ArchiveUnavailable,
    WarcArchive,
    archive_page,
    read_record,
)
from newsdesk.fetch import FetchedPage, Fetcher
from newsdesk.ingest import build_article, fetch_pages
from newsdesk.models import Article, FeedEntry
from newsdesk.settings import Settings
from tests.newswire import FERRY, article_page, html_route
from tests.servers import TestServer

FETCHED_AT = datetime(2024, 3, 12, 9, 30, 15, 250000, tzinfo=UTC)


def page(
    path: str = "/a.html", body: bytes = b"<html><p>hello</p></html>", **extra: object
) -> FetchedPage:
    data: dict[str, object] = {
        "url": f"http://127.0.0.1:9/{path.lstrip('/')}",
        "requested_url": f"http://127.0.0.1:9/{path.lstrip('/')}",
        "status": 200,
        "headers": {"content-type": "text/html; charset=utf-8", "etag": '"v1"'},
        "content": body,
        "content_type": "text/html",
        "charset": "utf-8",
        "fetched_at": FETCHED_AT,
        "elapsed": 0.1,
    }
    data.update(extra)
    return FetchedPage.model_validate(data)


def test_a_record_reads_back_as_the_page_it_was(tmp_path: Path) -> None:
    body = "<html><body><p>Grüße aus Zürich</p></body></html>".encode()
    original = page(
        "/story.html",
        body,
        requested_url="http://127.0.0.1:9/old-link",
        headers={
            "content-type": "text/html; charset=utf-8",
            "content-encoding": "gzip",
            "content-length": "40",
            "last-modified": "Tue, 12 Mar 2024 09:00:00 GMT",
        },
    )
    with WarcArchive(tmp_path) as archive:
        location = archive.write(original)
    assert location is not None
    name, offset = location.split("#")
    assert name.startswith("warc/")
    assert name.endswith(".warc.gz")
    assert offset == "0"

    back = read_record(tmp_path, location)
    assert back.url == original.url
    assert back.status == 200
    assert back.content == body
    assert back.warc_date == "2024-03-12T09:30:15.250000Z"
    # the body is stored decoded, so the encoding and length it had on the wire are renamed
    assert "content-encoding" not in back.headers
    assert back.headers["x-archive-orig-content-encoding"] == "gzip"
    assert back.headers["x-archive-orig-content-length"] == "40"
    assert back.headers["content-length"] == str(len(body))
    assert back.headers["last-modified"] == "Tue, 12 Mar 2024 09:00:00 GMT"

    again = back.as_page()
    assert again.content == body
    assert again.charset == "utf-8"
    assert again.content_type == "text/html"
    assert again.fetched_at == FETCHED_AT

    with (tmp_path / name).open("rb") as fh:
        records = list(ArchiveIterator(fh))
    assert len(records) == 1
    assert records[0].rec_headers.get_header("WARC-Newsdesk-Requested-URI") == (
        "http://127.0.0.1:9/old-link"
    )


def test_every_record_is_its_own_gzip_member_and_readable_by_offset(tmp_path: Path) -> None:
    pages = [page(f"/{i}.html", f"<p>page {i}</p>".encode() * (i + 1)) for i in range(5)]
    with WarcArchive(tmp_path) as archive:
        locations = [archive.write(p) for p in pages]
    assert len({loc.split("#")[0] for loc in locations if loc}) == 1
    for original, location in zip(pages, locations, strict=True):
        assert location is not None
        assert read_record(tmp_path, location).content == original.content
    # a standard gzip reader sees one valid stream of concatenated members
    path = tmp_path / (locations[0] or "").split("#")[0]
    assert gzip.decompress(path.read_bytes()).count(b"WARC/1.1\r\n") == 5


def test_files_rotate_by_size(tmp_path: Path) -> None:
    big = b"<p>" + os.urandom(3000).hex().encode() + b"</p>"
    with WarcArchive(tmp_path, max_file_bytes=10_000) as archive:
        locations = [archive.write(page(f"/{i}.html", big)) for i in range(6)]
    files = sorted((tmp_path / "warc").iterdir())
    assert len(files) >= 3
    assert all(f.stat().st_size <= 10_000 for f in files)
    assert all(read_record(tmp_path, loc or "").content == big for loc in locations)


def test_archive_page_carries_the_location(tmp_path: Path) -> None:
    with WarcArchive(tmp_path) as archive:
        archived = archive_page(archive, page())
    assert archived.raw_location is not None
    assert archived.content == page().content
    assert archive_page(None, page()).raw_location is None


def test_disk_reserve_continue_policy_ingests_without_raw_pages(tmp_path: Path) -> None:
    with WarcArchive(tmp_path, min_free_bytes=2**62, on_disk_full="continue") as archive:
        assert archive.write(page()) is None
        assert archive.write(page()) is None
        assert archive.skipped == 2


def test_disk_reserve_stop_policy_raises_a_clear_error(tmp_path: Path) -> None:
    with (
        WarcArchive(tmp_path, min_free_bytes=2**62, on_disk_full="stop") as archive,
        pytest.raises(ArchiveUnavailable, match=r"disk full: \d+ MiB free at .*must stay free"),
    ):
        archive.write(page())


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_real_enospc_leaves_no_record_and_the_next_write_uses_a_new_file(
    tmp_path: Path,
) -> None:
    """/dev/full answers every write with ENOSPC, as a full disk does."""
    (tmp_path / "warc").mkdir()
    (tmp_path / "warc" / "t-00000.warc.gz").symlink_to("/dev/full")
    with WarcArchive(tmp_path, prefix="t", min_free_bytes=0, on_disk_full="continue") as archive:
        assert archive.write(page("/lost.html")) is None
        location = archive.write(page("/kept.html"))
    assert location == "warc/t-00001.warc.gz#0"
    assert read_record(tmp_path, location).url.endswith("/kept.html")

    (tmp_path / "stop").mkdir()
    (tmp_path / "stop" / "warc").mkdir()
    (tmp_path / "stop" / "warc" / "s-00000.warc.gz").symlink_to("/dev/full")
    with (
        WarcArchive(tmp_path / "stop", prefix="s", min_free_bytes=0, on_disk_full="stop") as a,
        pytest.raises(ArchiveUnavailable, match="disk full writing"),
    ):
        a.write(page())


def test_concurrent_writers_never_interleave(tmp_path: Path) -> None:
    pages = [page(f"/{i}.html", f"<p>{i}</p>".encode() * 500) for i in range(40)]
    with WarcArchive(tmp_path, max_file_bytes=50_000) as archive, ThreadPoolExecutor(8) as pool:
        locations = list(pool.map(archive.write, pages))
    for original, location in zip(pages, locations, strict=True):
        back = read_record(tmp_path, location or "")
        assert (back.url, back.content) == (original.url, original.content)


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("warc/x.warc.gz", "expected file#offset"),
        ("warc/x.warc.gz#abc", "expected file#offset"),
        ("../../etc/passwd#0", "outside the data directory"),
        ("warc/missing.warc.gz#0", "not found"),
    ],
)
def test_bad_locations_name_the_problem(tmp_path: Path, location: str, message: str) -> None:
    with pytest.raises(ArchiveError, match=message):
        read_record(tmp_path, location)


def test_an_offset_inside_a_record_is_an_error(tmp_path: Path) -> None:
    with WarcArchive(tmp_path) as archive:
        location = archive.write(page()) or ""
    name = location.split("#")[0]
    with pytest.raises(ArchiveError, match=r"cannot read|no response record"):
        read_record(tmp_path, f"{name}#7")


def test_an_archived_page_re_extracts_to_the_same_article(tmp_path: Path) -> None:

    original = page("/ferry.html", article_page(FERRY))
    entry = FeedEntry(link=original.url, source="s")
    with WarcArchive(tmp_path) as archive:
        archived = archive_page(archive, original)
    first = build_article(entry, archived)
    assert isinstance(first, Article)
    assert first.raw_location == archived.raw_location
    again = build_article(entry, read_record(tmp_path, first.raw_location or "").as_page())
    assert isinstance(again, Article)
    assert (again.id, again.title, again.body, again.content_hash) == (
        first.id,
        first.title,
        first.body,
        first.content_hash,
    )


@pytest.mark.parametrize("policy", ["continue", "stop"])
def test_fetching_with_a_full_disk_follows_the_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str
) -> None:
    """`continue` ingests the text without raw pages; `stop` stops the batch with a clear
    error, so no article is indexed as if its raw page were kept."""

    monkeypatch.setenv("NEWSDESK_ARCHIVE_MIN_FREE_BYTES", str(2**62))
    monkeypatch.setenv("NEWSDESK_ARCHIVE_ON_DISK_FULL", policy)
    settings = Settings(allow_hosts=["127.0.0.1"], data_dir=tmp_path / policy)
    with TestServer() as site, Fetcher(settings) as fetcher:
        site.route("/a.html", html_route(article_page(FERRY)))
        entries = [FeedEntry(link=site.url("/a.html"), source="s")]
        if policy == "stop":
            with pytest.raises(ArchiveUnavailable, match="disk full"):
                fetch_pages(fetcher, entries, concurrency=1)
            return
        fetched, failed = fetch_pages(fetcher, entries, concurrency=1)
    assert failed == []
    assert [getattr(p, "raw_location", "missing") for _, p in fetched] == [None]
