"""Hostile feed documents built at test time: entity expansion in every disguise, size and
nesting bombs, and mutated fixtures. parse_feed raises FeedError or returns entries, never
anything else, and stays within 2 s and 200 MB."""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from newsdesk.errors import FeedError
from newsdesk.feeds import ParsedFeed, parse_feed, parse_feed_document, strip_doctype

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
URL = "https://hostile.example/feed.xml"
MAX_SECONDS = 2.0
MAX_BYTES = 200 * 1024 * 1024


def _outcome(fn: Callable[[], object]) -> object:
    try:
        return fn()
    except FeedError as exc:
        return exc


def _measured(fn: Callable[[], object]) -> tuple[object, float, int]:
    """Outcome, wall time of a plain run, and peak traced memory of a second run (tracemalloc
    slows allocation-heavy code several times over, so it does not time the first)."""
    start = time.monotonic()
    result = _outcome(fn)
    took = time.monotonic() - start
    tracemalloc.start()
    try:
        _outcome(fn)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, took, peak


_PROBE = """
import json, sys, time
from newsdesk.errors import FeedError
from newsdesk.feeds import parse_feed_document
content = open(sys.argv[1], "rb").read()
start = time.monotonic()
try:
    doc = parse_feed_document(content, feed_url="https://hostile.example/", source="probe")
    outcome = {"entries": [e.model_dump(mode="json") for e in doc.entries]}
except FeedError as exc:
    outcome = {"error": exc.reason}
outcome["seconds"] = time.monotonic() - start
# VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec from the (large) forking parent.
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
outcome["peak_rss"] = int(hwm.split()[1]) * 1024
print(json.dumps(outcome))
"""


def _in_fresh_process(content: bytes, tmp_path: Path) -> dict[str, Any]:
    """Parse in a new interpreter and report its peak RSS: the whole process, imports
    included, so the bound is conservative and no earlier test's memory hides in it."""
    path = tmp_path / "feed.bin"
    path.write_bytes(content)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        cwd=Path(__file__).parent.parent,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _parse(content: bytes) -> ParsedFeed:
    return parse_feed_document(content, feed_url=URL, source="hostile")


def _entity_expansion_feed() -> bytes:
    """The shape seen in the wild: one plain-text entity of 10 KB referenced 66,000 times in a
    ~210 KB document; feedparser's loose parser would expand it to ~660 MB of text."""
    value = "A" * 10_000
    refs = "&e;" * 50_000
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY e "' + value + '">\n]>\n'
        '<rss version="2.0"><channel><title>x</title>\n'
        "<item><title>" + refs[:48_000] + "</title><description>" + refs + "</description>"
        "<link>https://hostile.example/1</link></item>\n</channel></rss>\n"
    ).encode()


def test_entity_expansion_feed_is_bounded(tmp_path: Path) -> None:
    content = _entity_expansion_feed()
    assert 200_000 < len(content) < 250_000
    result = _in_fresh_process(content, tmp_path)
    assert result["seconds"] < MAX_SECONDS
    assert result["peak_rss"] < MAX_BYTES
    entry = result["entries"][0]
    assert "AAAAAAAAAA" not in f"{entry['title']}{entry['summary']}"


@pytest.mark.parametrize("name", ["billion_laughs.xml", "external_entity.xml", "sitemap_xxe.xml"])
def test_fixture_attacks_are_bounded(name: str, tmp_path: Path) -> None:
    result = _in_fresh_process((FIXTURES / name).read_bytes(), tmp_path)
    assert result["seconds"] < MAX_SECONDS
    assert result["peak_rss"] < MAX_BYTES
    assert result["entries"]


def test_declarations_hidden_in_a_prolog_comment_are_not_honoured() -> None:
    """feedparser finds `<!DOCTYPE`/`<!ENTITY` lines with a regex, comments included, and hands
    the entities to its loose parser; the prolog's comments are removed first."""
    content = (
        '<?xml version="1.0"?>\n<!--\n<!DOCTYPE x>\n<!ENTITY e "' + "B" * 1000 + '">\n-->\n'
        '<rss version="2.0"><channel><item><title>' + "&e;" * 1000 + "</title>"
        "<link>https://hostile.example/c</link></item></channel></rss>"
    ).encode()
    doc = _parse(content)
    assert "BBBB" not in (doc.entries[0].title or "")


def test_utf7_spelled_declarations_are_not_honoured() -> None:
    content = (
        b'<?xml version="1.0" encoding="utf-7"?>\n'
        b"+ADw-!DOCTYPE rss +AFs-\n+ADw-!ENTITY e +ACI-" + b"C" * 1000 + b"+ACI-+AD4-\n+AF0-+AD4-\n"
        b'<rss version="2.0"><channel><item><title>' + b"&e;" * 1000 + b"</title>"
        b"<link>https://hostile.example/u</link></item></channel></rss>"
    )
    result, took, _ = _measured(lambda: _parse(content))
    assert took < MAX_SECONDS
    if isinstance(result, ParsedFeed):
        assert all("CCCC" not in (e.title or "") for e in result.entries)


@pytest.mark.parametrize(
    "content",
    [
        b"<!DOCTYPE rss [<!ENTITY a 'x'>",
        b"<?xml version='1.0'?><!ENTITY a 'x'><rss/>",
        b"<?xml version='1.0'?><!ATTLIST rss a CDATA 'x'><rss/>",
    ],
    ids=["unterminated", "bare-entity", "bare-attlist"],
)
def test_declarations_outside_a_doctype_are_refused(content: bytes) -> None:
    with pytest.raises(FeedError):
        _parse(content)


def test_strip_doctype_keeps_everything_after_the_prolog() -> None:
    body = "<rss><![CDATA[<!DOCTYPE html>]]></rss>"
    text = '<?xml version="1.0"?>\n<!DOCTYPE rss SYSTEM "x.dtd">\n' + body
    assert strip_doctype(text) == '<?xml version="1.0"?>\n\n' + body


def test_deeply_nested_json_is_a_feed_error() -> None:
    with pytest.raises(FeedError, match="invalid JSON"):
        _parse(b"[" * 200_000 + b"]" * 200_000)


@pytest.mark.parametrize("closed", [True, False])
def test_deeply_nested_xml_is_refused_quickly(closed: bool) -> None:
    content = (
        b'<rss version="2.0"><channel><item><link>https://hostile.example/n</link>'
        + b"<x>" * 50_000
        + (b"</x>" * 50_000 if closed else b"")
        + b"</item></channel></rss>"
    )
    result, took, peak = _measured(lambda: _parse(content))
    assert took < MAX_SECONDS
    assert peak < MAX_BYTES
    assert isinstance(result, FeedError)
    assert "nested" in result.reason


def test_moderate_nesting_and_void_html_tags_are_fine() -> None:
    content = (
        b'<rss version="2.0"><channel><item><link>https://hostile.example/v</link>'
        + b"<br>" * 5000
        + b"<x>" * 100
        + b"</x>" * 100
        + b"</item></channel></rss>"
    )
    assert [e.link for e in _parse(content).entries] == ["https://hostile.example/v"]


def test_oversized_input_is_refused_before_parsing() -> None:
    with pytest.raises(FeedError, match="over the cap"):
        parse_feed_document(b"<rss>" + b" " * 2000, feed_url=URL, source="s", max_bytes=1000)


def test_gzip_bomb_is_refused_at_the_cap() -> None:
    bomb = gzip.compress(b"\0" * (64 << 20), compresslevel=1)
    result, took, peak = _measured(
        lambda: parse_feed_document(bomb, feed_url=URL, source="s", max_bytes=8 << 20)
    )
    assert isinstance(result, FeedError)
    assert "inflates past" in result.reason
    assert peak < 3 * (8 << 20)
    assert took < MAX_SECONDS


def test_corrupt_gzip_is_a_feed_error() -> None:
    with pytest.raises(FeedError, match="gzip"):
        _parse(gzip.compress(b"<rss/>")[:-12] + b"garbage!" * 4)


def test_parse_time_is_bounded() -> None:
    content = (FIXTURES / "rss20_full.xml").read_bytes() * 1
    big = content.replace(
        b"</channel>", b"<item><link>https://a.example/x</link></item>" * 20_000 + b"</channel>"
    )
    with pytest.raises(FeedError, match="longer than"):
        parse_feed_document(big, feed_url=URL, source="s", timeout=0.05)


@pytest.mark.parametrize("content", [b"/etc/passwd", b"/etc/hostname", b"setup.py"])
def test_bytes_that_look_like_a_path_are_never_opened(content: bytes) -> None:
    with pytest.raises(FeedError, match="neither XML nor JSON"):
        parse_feed(content, feed_url=URL, source="s")


def test_non_bytes_input_is_a_feed_error() -> None:
    with pytest.raises(FeedError, match="bytes"):
        parse_feed("<rss/>", feed_url=URL, source="s")  # type: ignore[arg-type]


def _mutations(content: bytes, rng: random.Random) -> list[bytes]:
    out = [content[: rng.randrange(len(content) + 1)] for _ in range(3)]
    for _ in range(3):
        data = bytearray(content)
        for _ in range(rng.randint(1, 8)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
        out.append(bytes(data))
    snippets = [
        b"<",
        b"]]>",
        b"<![CDATA[",
        b"&",
        b"&#xD800;",
        b"<!DOCTYPE x [",
        b"\x00",
        b"\xff\xfe",
    ]
    for _ in range(2):
        cut = rng.randrange(len(content) + 1)
        out.append(content[:cut] + rng.choice(snippets) + content[cut:])
    return out


def test_mutated_fixtures_only_ever_raise_feed_error() -> None:
    rng = random.Random(20250610)
    cases = [
        p.read_bytes()
        for p in sorted(FIXTURES.iterdir())
        if not p.name.endswith(".expected.json") and p.name != "README.md"
    ]
    start = time.monotonic()
    parsed = failed = 0
    for content in cases:
        for mutant in _mutations(content, rng):
            try:
                entries = parse_feed(mutant, feed_url=URL, source="fuzz")
            except FeedError:
                failed += 1
            else:
                parsed += 1
                assert all(e.link.startswith(("http://", "https://")) for e in entries)
    assert parsed > 0
    assert failed > 0
    assert time.monotonic() - start < 20


def test_parsing_is_thread_safe() -> None:
    content = (FIXTURES / "rss20_full.xml").read_bytes()
    expected = parse_feed(content, feed_url=URL, source="s")
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: parse_feed(content, feed_url=URL, source="s"), range(32)))
    assert all(r == expected for r in results)
