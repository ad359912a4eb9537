"""The evaluation module: metric arithmetic on tiny corpora of our own, with an injected
extractor whose output follows from the fixture pages (see tests/fixtures/eval/*/expected.json)."""

from __future__ import annotations

import gzip
import json
import shutil
import time
from datetime import date, datetime
from pathlib import Path

import lxml.html
import pytest
from rich.console import Console

from newsdesk.errors import ConfigError, NotAnArticle
from newsdesk.evaluation import (
    EvalReport,
    Extraction,
    author_names,
    detect_format,
    load_corpus,
    main,
    read_page,
    render_table,
    run_evaluation,
    score_snippets,
    shingle_match,
    shingle_prf,
    shingle_scores,
    shingles,
    tokenize,
)
from newsdesk.models import ArticleFields, Author

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
DEV = FIXTURES / "dev"
AEB = FIXTURES / "aeb"


def article_element(page: bytes, url: str) -> Extraction:
    """A fake extractor whose output is plain from the fixture HTML."""
    tree = lxml.html.fromstring(page)
    found = tree.xpath("//article")
    if not found:
        raise NotAnArticle("no <article> element", url=url)
    article = found[0]
    stamps = article.xpath(".//time/@datetime")
    return Extraction(
        text=" ".join(article.itertext()),
        title=next(iter(article.xpath(".//h1/text()")), None),
        authors=article.xpath(".//span[@class='author']/text()"),
        published=datetime.fromisoformat(stamps[0]).date() if stamps else None,
    )


def expected(corpus: Path) -> dict:
    return json.loads((corpus / "expected.json").read_text("utf-8"))


def test_extraction_dev_arithmetic_matches_the_fixture() -> None:
    want = expected(DEV)
    report = run_evaluation(DEV, extractors={"fake": article_element})
    assert report.format == "extraction-dev"
    assert report.pages == want["pages"]
    (fake,) = report.extractors
    assert fake.snippets is not None
    got = fake.snippets.model_dump()
    for key, value in want["snippets"].items():
        assert got[key] == pytest.approx(value), key
    assert fake.snippets.precision == pytest.approx(2 / 3)
    assert fake.snippets.recall == pytest.approx(4 / 5)
    assert fake.snippets.f1 == pytest.approx(8 / 11)
    for field, score in want["fields"].items():
        assert fake.fields[field].correct == score["correct"], field
        assert fake.fields[field].annotated == score["annotated"], field
        assert fake.fields[field].accuracy == pytest.approx(score["correct"] / score["annotated"])
    assert fake.empty == want["empty"]
    assert fake.not_articles == want["not_articles"]
    assert fake.failures == want["failures"]
    statuses = {r.page_id: r.status for r in fake.page_results}
    assert statuses == {"harbour": "ok", "library": "ok", "front": "not_article"}


def test_aeb_arithmetic_matches_the_fixture() -> None:
    want = expected(AEB)
    report = run_evaluation(AEB, extractors={"fake": article_element}, n_bootstrap=200)
    assert report.format == "aeb"
    assert report.pages == want["pages"]
    (fake,) = report.extractors
    assert fake.shingles is not None
    for key, value in want["shingles"].items():
        assert getattr(fake.shingles, key) == pytest.approx(value), key
    assert fake.shingles.f1 == pytest.approx(5 / 8)
    assert fake.snippets is None
    assert fake.fields == {}
    assert fake.not_articles == want["not_articles"]
    page_f1 = []
    for r in fake.page_results:
        assert r.shingles is not None
        p, rec, _ = shingle_prf([r.shingles])
        page_f1.append(2 * p * rec / (p + rec) if p + rec else 0.0)
    assert sum(page_f1) / len(page_f1) == pytest.approx(want["mean_of_page_f1"])
    assert fake.shingles.f1 != pytest.approx(want["mean_of_page_f1"])
    assert fake.shingles.precision_std is not None
    assert fake.shingles.precision_std > 0


def test_bootstrap_is_reproducible_and_optional() -> None:
    matches = [shingle_match("a b c d e", "a b c d"), shingle_match("x y z", "")]
    exact = [False, False]
    assert shingle_scores(matches, exact, n_bootstrap=50) == shingle_scores(
        matches, exact, n_bootstrap=50
    )
    plain = shingle_scores(matches, exact, n_bootstrap=0)
    assert plain.f1_std is None
    assert plain.precision == 1.0
    assert plain.recall == 0.25


def test_tokens_and_shingles_follow_the_benchmark() -> None:
    assert tokenize("Hello, World! it's 3pm") == ["Hello", "World", "it", "s", "3pm"]
    assert shingles("") == {}
    assert shingles("a b") == {("a", "b"): 1}
    assert shingles("a b c d a b c d") == {
        ("a", "b", "c", "d"): 2,
        ("b", "c", "d", "a"): 1,
        ("c", "d", "a", "b"): 1,
        ("d", "a", "b", "c"): 1,
    }
    assert shingle_match("a b c d e", "a b c d") == (0.5, 0.0, 0.5)
    assert shingle_match("", "") == (0.0, 0.0, 0.0)
    tp, fp, fn = shingle_match("one two three four", "one two three four one two three four")
    assert (tp, fp, fn) == pytest.approx((0.2, 0.8, 0.0))  # 1 true shingle, 5 predicted


def test_snippets_are_matched_after_whitespace_normalisation() -> None:
    counts = score_snippets(
        "Line one\n  continues here.\u00a0Next", ["one continues here. Next", "absent"], ["Line"]
    )
    assert (counts.true_positives, counts.false_negatives) == (1, 1)
    assert (counts.false_positives, counts.true_negatives) == (1, 0)


def test_author_names_compare_as_sets() -> None:
    assert author_names(["Ada Lovelace and Charles Babbage"]) == {"Ada Lovelace", "Charles Babbage"}
    assert author_names(["Luana Patriolino; Raphael Felice"]) == author_names(
        ["Raphael Felice", " Luana  Patriolino"]
    )
    assert author_names(["CLARA LÖW, SIDDHARTH PRAKASH & KLAUS JACOB"]) == {
        "CLARA LÖW",
        "SIDDHARTH PRAKASH",
        "KLAUS JACOB",
    }
    assert author_names(["Tim Anderson"]) == {"Tim Anderson"}
    assert author_names([]) == frozenset()


def test_article_fields_are_scored_from_body_authors_and_date() -> None:
    def fields(page: bytes, url: str) -> ArticleFields:
        return ArticleFields(
            title="Harbour reopens after storm",
            body="The harbour reopened on Tuesday after three days of repairs.",
            authors=[Author(name="Charles Babbage"), Author(name="Ada Lovelace")],
            published_at=datetime(2024, 3, 5, 8, 0),
        )

    report = run_evaluation(DEV, extractors={"fields": fields}, limit=1)
    (ex,) = report.extractors
    assert report.pages == 1
    assert ex.fields["title"].correct == 1
    assert ex.fields["author"].correct == 1
    assert ex.fields["date"].correct == 1
    assert ex.snippets is not None
    assert ex.snippets.true_positives == 1


def test_crashing_extractor_is_counted_not_fatal() -> None:
    def flaky(page: bytes, url: str) -> Extraction:
        if url.endswith("/library"):
            raise RuntimeError("boom\nsecond line")
        return article_element(page, url)

    report = run_evaluation(DEV, extractors={"flaky": flaky, "fake": article_element})
    flaky_report, fake_report = report.extractors
    assert flaky_report.failures == 1
    assert [(f.page_id, f.reason) for f in flaky_report.failure_samples] == [
        ("library", "RuntimeError: boom")
    ]
    assert flaky_report.snippets is not None
    assert flaky_report.snippets.true_positives == 2
    assert flaky_report.snippets.false_negatives == 3
    assert fake_report.failures == 0


def test_stub_and_unusable_outputs_are_failures() -> None:
    def stub(page: bytes, url: str) -> Extraction:
        raise NotImplementedError

    def wrong_type(page: bytes, url: str) -> Extraction:
        return {"text": "not a model"}  # type: ignore[return-value]

    report = run_evaluation(DEV, extractors={"stub": stub, "wrong": wrong_type})
    stub_report, wrong_report = report.extractors
    assert stub_report.failures == 3
    assert stub_report.failure_samples[0].reason == "NotImplementedError"
    assert stub_report.snippets is not None
    assert stub_report.snippets.true_positives == 0
    assert stub_report.snippets.true_negatives == 5
    assert wrong_report.failures == 3
    assert wrong_report.failure_samples[0].reason.startswith("unusable output dict")


def test_text_only_and_empty_outputs() -> None:
    def text_only(page: bytes, url: str) -> str:
        return "Weekend hours stay the same."

    report = run_evaluation(DEV, extractors={"text": text_only, "none": lambda page, url: None})
    text, none = report.extractors
    assert text.snippets is not None
    assert text.snippets.true_positives == 1
    assert text.fields["title"].correct == 0
    assert none.empty == 3
    assert none.failures == 0


def test_extractors_get_a_real_address_for_labelled_urls() -> None:
    seen: list[str] = []

    def record(page: bytes, url: str) -> None:
        seen.append(url)

    run_evaluation(DEV, extractors={"record": record})
    assert seen[1:] == [
        "https://gazette.example/2024/03/harbour",
        "https://example.invalid/library",
        "https://gazette.example/",
    ]


def test_only_the_extraction_call_is_timed() -> None:
    def slow(page: bytes, url: str) -> str:
        time.sleep(0.02)
        return ""

    report = run_evaluation(DEV, extractors={"slow": slow})
    (ex,) = report.extractors
    assert 0.06 <= ex.seconds < 1.0
    assert ex.pages_per_second == pytest.approx(3 / ex.seconds)
    assert ex.ms_per_page == pytest.approx(1000 * ex.seconds / 3)
    assert ex.cpu_ms_per_page is not None
    assert 0 <= ex.cpu_ms_per_page < 20  # sleeping costs no CPU


def test_format_detection(tmp_path: Path) -> None:
    assert detect_format(DEV) == "extraction-dev"
    assert detect_format(AEB) == "aeb"
    assert load_corpus(DEV / "annotations.json").format == "extraction-dev"
    with pytest.raises(ConfigError, match="not a corpus"):
        detect_format(tmp_path)
    (tmp_path / "annotations.json").write_text("{}")
    (tmp_path / "ground-truth.json").write_text("{}")
    with pytest.raises(ConfigError, match="both"):
        detect_format(tmp_path)
    with pytest.raises(ConfigError, match=r"ground-truth\.json is missing"):
        run_evaluation(DEV, fmt="aeb", extractors={"fake": article_element})
    with pytest.raises(ConfigError, match="unknown corpus format"):
        run_evaluation(DEV, fmt="html", extractors={"fake": article_element})
    with pytest.raises(ConfigError, match="does not exist"):
        run_evaluation(tmp_path / "nowhere")


def test_gzip_is_told_by_content_not_name(tmp_path: Path) -> None:
    html = b"<html><body><article><p>x</p></article></body></html>"
    (tmp_path / "a.html.gz").write_bytes(gzip.compress(html))
    (tmp_path / "b.html.gz").write_bytes(html)
    (tmp_path / "c.html").write_bytes(gzip.compress(html))
    assert read_page(tmp_path / "a.html.gz") == html
    assert read_page(tmp_path / "b.html.gz") == html
    assert read_page(tmp_path / "c.html") == html
    pages = {p.id: p.file.name for p in load_corpus(AEB).pages}
    assert pages == {
        "count": "count.html.gz",
        "greek": "greek.html",
        "colours": "colours.html.gz",
        "sun": "sun.html.gz",
    }


def test_bad_pages_are_listed_and_the_rest_scored(tmp_path: Path) -> None:
    corpus = tmp_path / "dev"
    shutil.copytree(DEV, corpus)
    (corpus / "pages" / "library.html").unlink()
    (corpus / "pages" / "front.html.gz").write_bytes(b"\x1f\x8b not really gzip")
    annotations = json.loads((corpus / "annotations.json").read_text("utf-8"))
    annotations["broken"] = {"file": "x.html", "with": "not a list", "without": []}
    annotations["escape"] = {"file": "../annotations.json", "with": [], "without": []}
    (corpus / "annotations.json").write_text(json.dumps(annotations))

    report = run_evaluation(corpus, extractors={"fake": article_element})
    assert report.pages == 1
    reasons = {s.page_id: s.reason for s in report.skipped_pages}
    assert set(reasons) == {"library", "front", "broken", "escape"}
    assert "with must be a list of strings" in reasons["broken"]
    assert "plain file name" in reasons["escape"]
    assert "library.html" in reasons["library"]
    (fake,) = report.extractors
    assert fake.snippets is not None
    assert fake.snippets.true_positives == 2


def test_bad_truth_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "annotations.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"annotations\.json is not valid JSON"):
        run_evaluation(tmp_path)
    (tmp_path / "annotations.json").write_text("[]")
    with pytest.raises(ConfigError, match="must map page ids"):
        run_evaluation(tmp_path)


def test_unknown_extractor_name_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown extractor 'readability'"):
        run_evaluation(DEV, extractors=("readability",))


def test_limit_takes_the_first_pages() -> None:
    report = run_evaluation(AEB, limit=2, extractors={"fake": article_element})
    assert [r.page_id for r in report.extractors[0].page_results] == ["count", "greek"]


def test_builtin_extractors_run_side_by_side() -> None:
    """The real baseline and the extractor under test, whatever state it is in."""
    report = run_evaluation(DEV)
    assert [e.name for e in report.extractors] == ["newsdesk", "trafilatura"]
    newsdesk, baseline = report.extractors
    assert len(newsdesk.page_results) == len(baseline.page_results) == 3
    assert baseline.failures == 0
    assert baseline.snippets is not None
    assert baseline.snippets.true_positives >= 3
    assert baseline.fields["date"].correct >= 1
    assert EvalReport.model_validate_json(report.model_dump_json()) == report

    console = Console(record=True, width=120)
    console.print(render_table(report))
    text = console.export_text()
    labels = ("newsdesk", "trafilatura", "main text f1", "author accuracy", "CPU ms/page")
    for label in labels:
        assert label in text


def test_table_for_aeb_shows_shingle_metrics() -> None:
    report = run_evaluation(AEB, extractors={"fake": article_element}, n_bootstrap=20)
    console = Console(record=True, width=120)
    console.print(render_table(report))
    text = console.export_text()
    assert "shingle f1" in text
    assert "62.5 ±" in text


def test_module_entry_point_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(AEB), "--json", "--extractor", "trafilatura", "--limit", "1"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["format"] == "aeb"
    assert data["extractors"][0]["name"] == "trafilatura"
    assert main([str(FIXTURES)]) == 2
    assert "not a corpus" in capsys.readouterr().out


def test_dates_compare_as_calendar_days() -> None:
    def dated(page: bytes, url: str) -> Extraction:
        return Extraction(text="", published=date(2024, 3, 5))

    report = run_evaluation(DEV, extractors={"dated": dated})
    assert report.extractors[0].fields["date"].correct == 1
