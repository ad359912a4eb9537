"""Measured extraction quality: score extractors against an annotated corpus (`newsdesk eval`).

Two corpus formats are read, each scored by its own published convention so that our figures
can be set beside published ones:

- ``extraction-dev`` (``annotations.json`` + ``pages/``): snippets that the main text must
  (``with``) and must not (``without``) contain, counted over all snippets as in trafilatura's
  evaluation; metadata (title, author, date) by exact match after whitespace normalisation.
- ``aeb`` (``ground-truth.json`` + ``html/``), the article-extraction-benchmark: 4-gram
  shingles of ``\\w+`` tokens, per-page precision/recall normalised by the page's shingle
  count, F1 of the mean precision and mean recall, accuracy as the share of pages whose
  tokens equal the truth exactly, and bootstrap standard deviations.

Each extractor is called once per page; only that call is timed. A page that an extractor
cannot handle (any exception) is scored as empty output and counted, never fatal.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import random
import re
import statistics
import time
import unicodedata
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rich.table import Table

from newsdesk.errors import ConfigError, NotAnArticle
from newsdesk.models import ArticleFields

CorpusFormat = Literal["extraction-dev", "aeb"]
FORMATS: tuple[CorpusFormat, ...] = ("extraction-dev", "aeb")
SCORED_FIELDS = ("title", "author", "date")
FAILURE_SAMPLES = 5
_GZIP_MAGIC = b"\x1f\x8b"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Extraction(_Model):
    """What one extractor read off one page, reduced to the fields that are scored."""

    text: str = ""
    title: str | None = None
    authors: list[str] = Field(default_factory=list)
    published: date | None = None


ExtractorOutput = Extraction | ArticleFields | str | None
ExtractorFn = Callable[[bytes, str], ExtractorOutput]
"""An extractor under test: raw page bytes and the page's address in, what it found out."""


# --- reports -------------------------------------------------------------------------------


class SnippetCounts(_Model):
    true_positives: int = 0
    false_negatives: int = 0
    false_positives: int = 0
    true_negatives: int = 0


class SnippetScores(SnippetCounts):
    """Main-text scores over all `with`/`without` snippets of the corpus."""

    precision: float
    recall: float
    f1: float
    accuracy: float


class ShingleScores(_Model):
    """The article-extraction-benchmark metrics; `*_std` are bootstrap standard deviations."""

    precision: float
    recall: float
    f1: float
    accuracy: float
    precision_std: float | None = None
    recall_std: float | None = None
    f1_std: float | None = None
    accuracy_std: float | None = None


class FieldScore(_Model):
    """Exact matches of one metadata field over the pages whose annotation gives it."""

    correct: int
    annotated: int
    accuracy: float | None


class PageFailure(_Model):
    page_id: str
    reason: str


class PageResult(_Model):
    """One extractor on one page: kept so a regression can be traced to its pages."""

    page_id: str
    status: Literal["ok", "empty", "not_article", "failed"]
    seconds: float
    cpu_seconds: float = 0.0
    reason: str | None = None
    snippets: SnippetCounts | None = None
    shingles: tuple[float, float, float] | None = None
    exact: bool | None = None
    title: bool | None = None
    author: bool | None = None
    date: bool | None = None


class ExtractorReport(_Model):
    name: str
    pages: int
    snippets: SnippetScores | None = None
    shingles: ShingleScores | None = None
    fields: dict[str, FieldScore] = Field(default_factory=dict)
    seconds: float
    pages_per_second: float | None
    ms_per_page: float | None
    cpu_ms_per_page: float | None = None
    """CPU time of this process per page: steadier than wall time on a shared machine."""
    empty: int = 0
    not_articles: int = 0
    failures: int = 0
    failure_samples: list[PageFailure] = Field(default_factory=list)
    page_results: list[PageResult] = Field(default_factory=list)


class EvalReport(_Model):
    corpus: str
    format: CorpusFormat
    pages: int
    skipped_pages: list[PageFailure] = Field(default_factory=list)
    extractors: list[ExtractorReport]


# --- corpus loading ------------------------------------------------------------------------


@dataclass(frozen=True)
class CorpusPage:
    """One page and its truth; `body` is set for `aeb`, the snippets and fields otherwise."""

    id: str
    url: str
    file: Path
    with_snippets: tuple[str, ...] = ()
    without_snippets: tuple[str, ...] = ()
    title: str | None = None
    author: tuple[str, ...] | None = None
    date: str | None = None
    body: str | None = None


@dataclass(frozen=True)
class Corpus:
    path: Path
    format: CorpusFormat
    pages: list[CorpusPage]
    problems: list[PageFailure]


def detect_format(path: Path) -> CorpusFormat:
    """Tell the format by the truth file present; both or neither is an error."""
    has_dev = (path / "annotations.json").is_file()
    has_aeb = (path / "ground-truth.json").is_file()
    if has_dev and has_aeb:
        raise ConfigError(
            f"{path} holds both annotations.json and ground-truth.json; pass the format explicitly"
        )
    if has_dev:
        return "extraction-dev"
    if has_aeb:
        return "aeb"
    raise ConfigError(
        f"{path} is not a corpus: expected annotations.json (extraction-dev) "
        "or ground-truth.json (aeb)"
    )


def load_corpus(path: Path, fmt: str = "auto", limit: int | None = None) -> Corpus:
    """Read the truth file of a corpus; malformed entries are listed as problems, not fatal."""
    if path.is_file() and path.name in ("annotations.json", "ground-truth.json"):
        path = path.parent
    if not path.is_dir():
        raise ConfigError(f"corpus folder {path} does not exist")
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt == "extraction-dev":
        return load_extraction_dev(path, limit)
    if fmt == "aeb":
        return load_aeb(path, limit)
    raise ConfigError(f"unknown corpus format {fmt!r}; use auto, {', '.join(FORMATS)}")


def _read_truth(file: Path) -> dict[str, Any]:
    if not file.is_file():
        raise ConfigError(f"{file} is missing")
    try:
        data = json.loads(file.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{file} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{file} must map page ids to entries, found {type(data).__name__}")
    return data


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise ValueError(f"{what} must be a list of strings")
    return tuple(value)


def _optional_text(value: Any, what: str) -> str | None:
    """A field given as an empty string counts as not annotated."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string")
    return normalize_ws(value) or None


def _annotated_authors(value: Any) -> tuple[str, ...] | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, str):
        return (value,)
    return _strings(value, "author")


def _page_file(folder: Path, page_id: str, named: Any) -> Path:
    if named is not None:
        if not isinstance(named, str) or "/" in named or "\\" in named or named.startswith("."):
            raise ValueError(f"file must be a plain file name, got {named!r}")
        return folder / named
    for suffix in (".html.gz", ".html"):
        candidate = folder / f"{page_id}{suffix}"
        if candidate.is_file():
            return candidate
    return folder / f"{page_id}.html"


def _entries(data: dict[str, Any], limit: int | None) -> Iterable[tuple[str, Any]]:
    items = list(data.items())
    return items if limit is None else items[: max(limit, 0)]


def load_extraction_dev(path: Path, limit: int | None = None) -> Corpus:
    """`annotations.json` + `pages/`: see the corpus README for the fields."""
    data = _read_truth(path / "annotations.json")
    pages: list[CorpusPage] = []
    problems: list[PageFailure] = []
    for page_id, entry in _entries(data, limit):
        try:
            if not isinstance(entry, dict):
                raise ValueError("entry must be an object")
            pages.append(
                CorpusPage(
                    id=page_id,
                    url=str(entry.get("url") or ""),
                    file=_page_file(path / "pages", page_id, entry.get("file")),
                    with_snippets=_strings(entry.get("with", []), "with"),
                    without_snippets=_strings(entry.get("without", []), "without"),
                    title=_optional_text(entry.get("title"), "title"),
                    author=_annotated_authors(entry.get("author")),
                    date=_optional_text(entry.get("date"), "date"),
                )
            )
        except ValueError as exc:
            problems.append(PageFailure(page_id=page_id, reason=f"annotations.json: {exc}"))
    return Corpus(path=path, format="extraction-dev", pages=pages, problems=problems)


def load_aeb(path: Path, limit: int | None = None) -> Corpus:
    """`ground-truth.json` (`{id: {articleBody, url}}`) + `html/<id>.html[.gz]`."""
    data = _read_truth(path / "ground-truth.json")
    pages: list[CorpusPage] = []
    problems: list[PageFailure] = []
    for page_id, entry in _entries(data, limit):
        try:
            if not isinstance(entry, dict):
                raise ValueError("entry must be an object")
            body = entry.get("articleBody", "")
            if not isinstance(body, str):
                raise ValueError("articleBody must be a string")
            pages.append(
                CorpusPage(
                    id=page_id,
                    url=str(entry.get("url") or ""),
                    file=_page_file(path / "html", page_id, None),
                    body=body,
                )
            )
        except ValueError as exc:
            problems.append(PageFailure(page_id=page_id, reason=f"ground-truth.json: {exc}"))
    return Corpus(path=path, format="aeb", pages=pages, problems=problems)


def read_page(file: Path) -> bytes:
    """The page's raw bytes, gunzipped when the file is gzip (told by its magic bytes)."""
    raw = file.read_bytes()
    return gzip.decompress(raw) if raw.startswith(_GZIP_MAGIC) else raw


def page_address(page: CorpusPage) -> str:
    """The URL handed to extractors; labels such as `hard::…` become a reserved address."""
    if page.url.startswith(("http://", "https://")):
        return page.url
    return f"https://example.invalid/{page.id}"


# --- scoring: extraction-dev ----------------------------------------------------------------

_AUTHOR_SEPARATORS = re.compile(r"\s*(?:[;,&|/]|\b(?:and|und)\b)\s*", re.IGNORECASE)


def normalize_ws(text: str) -> str:
    return " ".join(text.split())


def score_snippets(text: str, with_: Sequence[str], without: Sequence[str]) -> SnippetCounts:
    """A `with` snippet found is a TP (else FN); a `without` snippet found is a FP (else TN)."""
    haystack = normalize_ws(text)
    found_with = sum(1 for s in with_ if normalize_ws(s) in haystack)
    found_without = sum(1 for s in without if normalize_ws(s) in haystack)
    return SnippetCounts(
        true_positives=found_with,
        false_negatives=len(with_) - found_with,
        false_positives=found_without,
        true_negatives=len(without) - found_without,
    )


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def snippet_scores(counts: Iterable[SnippetCounts]) -> SnippetScores:
    tp = fn = fp = tn = 0
    for c in counts:
        tp += c.true_positives
        fn += c.false_negatives
        fp += c.false_positives
        tn += c.true_negatives
    return SnippetScores(
        true_positives=tp,
        false_negatives=fn,
        false_positives=fp,
        true_negatives=tn,
        precision=_ratio(tp, tp + fp),
        recall=_ratio(tp, tp + fn),
        f1=_ratio(2 * tp, 2 * tp + fp + fn),
        accuracy=_ratio(tp + tn, tp + tn + fp + fn),
    )


def author_names(names: Iterable[str]) -> frozenset[str]:
    """Split bylines such as `A, B and C` or `A; B` into a set of whitespace-normalised names."""
    out: set[str] = set()
    for name in names:
        out.update(p for part in _AUTHOR_SEPARATORS.split(name) if (p := normalize_ws(part)))
    return frozenset(out)


def match_title(expected: str | None, found: str | None) -> bool | None:
    if expected is None:
        return None
    return found is not None and normalize_ws(found) == expected


def match_authors(expected: Sequence[str] | None, found: Sequence[str]) -> bool | None:
    if expected is None:
        return None
    return author_names(expected) == author_names(found)


def match_date(expected: str | None, found: date | None) -> bool | None:
    if expected is None:
        return None
    return found is not None and found.isoformat() == expected


# --- scoring: article-extraction-benchmark ---------------------------------------------------

_TOKEN_RE = re.compile(r"\w+", re.UNICODE | re.MULTILINE | re.IGNORECASE | re.DOTALL)

ShingleMatch = tuple[float, float, float]


def tokenize(text: str) -> list[str]:
    """`\\w+` tokens, case kept: the benchmark does not lower-case."""
    return _TOKEN_RE.findall(text or "")


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    """Token n-grams; a text shorter than n tokens is one shorter shingle, an empty one none."""
    tokens = tokenize(text)
    return Counter(
        tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n]
    )


def shingle_match(true: str, pred: str, n: int = 4) -> ShingleMatch:
    """(TP, FP, FN) over shingle multisets, divided by their sum so long pages weigh no more."""
    t, p = shingles(true, n), shingles(pred, n)
    tp = float(sum((t & p).values()))
    fp = float(sum((p - t).values()))
    fn = float(sum((t - p).values()))
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (tp, fp, fn)


def _page_precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fp == 0 else tp / (tp + fp)


def _page_recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fn == 0 else tp / (tp + fn)


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def shingle_prf(matches: Sequence[ShingleMatch]) -> tuple[float, float, float]:
    """Mean precision over pages with a prediction, mean recall over pages with a truth, and
    the F1 of those two means (not the mean of per-page F1s)."""
    precision = _mean([_page_precision(*m) for m in matches if m[0] + m[1] > 0])
    recall = _mean([_page_recall(*m) for m in matches if m[0] + m[2] > 0])
    f1 = _ratio(2 * precision * recall, precision + recall)
    return precision, recall, f1


def shingle_scores(
    matches: Sequence[ShingleMatch], exact: Sequence[bool], n_bootstrap: int = 1000, seed: int = 0
) -> ShingleScores:
    precision, recall, f1 = shingle_prf(matches)
    scores = ShingleScores(
        precision=precision, recall=recall, f1=f1, accuracy=_mean([float(e) for e in exact])
    )
    if n_bootstrap < 2 or not matches:
        return scores
    rng = random.Random(seed)
    samples: dict[str, list[float]] = {"precision": [], "recall": [], "f1": [], "accuracy": []}
    n = len(matches)
    for _ in range(n_bootstrap):
        idx = [rng.randrange(n) for _ in range(n)]
        p, r, f = shingle_prf([matches[i] for i in idx])
        samples["precision"].append(p)
        samples["recall"].append(r)
        samples["f1"].append(f)
        samples["accuracy"].append(_mean([float(exact[i]) for i in idx]))
    return scores.model_copy(update={f"{k}_std": statistics.stdev(v) for k, v in samples.items()})


# --- extractors -----------------------------------------------------------------------------


def newsdesk_extractor(page: bytes, url: str) -> ArticleFields:
    """The extractor under test; imported at call time so a broken one fails per page."""
    from extractors.article import extract_article

    return extract_article(page, url)


def trafilatura_extractor(page: bytes, url: str) -> Extraction:
    """The baseline: trafilatura with its defaults, in one parse.

    `bare_extraction(with_metadata=True)` yields the text of `trafilatura.extract(page)` (body,
    then comments, NFC) and the metadata of `trafilatura.extract_metadata(page)`; on
    extraction-dev the two agree with the separate calls on every page up to whitespace, which
    scoring ignores. Like the benchmark's own runner, no URL is passed."""
    return _trafilatura(page, include_comments=True)


def trafilatura_no_comments_extractor(page: bytes, url: str) -> Extraction:
    """trafilatura as its published evaluations run it (comments off), for comparison."""
    return _trafilatura(page, include_comments=False)


def _trafilatura(page: bytes, *, include_comments: bool) -> Extraction:
    from trafilatura import bare_extraction

    doc: Any = bare_extraction(page, with_metadata=True, include_comments=include_comments)
    if doc is None:
        return Extraction()
    text = doc.text or ""
    if include_comments and doc.comments:
        text = f"{text}\n{doc.comments}".strip()
    return Extraction(
        text=unicodedata.normalize("NFC", text),
        title=doc.title,
        authors=[a for a in (doc.author or "").split(";") if a.strip()],
        published=_parse_date(doc.date),
    )


EXTRACTORS: dict[str, ExtractorFn] = {
    "newsdesk": newsdesk_extractor,
    "trafilatura": trafilatura_extractor,
    "trafilatura-no-comments": trafilatura_no_comments_extractor,
}


def _parse_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def as_extraction(output: ExtractorOutput) -> Extraction:
    """Bring what an extractor returned to the scored fields."""
    if output is None:
        return Extraction()
    if isinstance(output, Extraction):
        return output
    if isinstance(output, str):
        return Extraction(text=output)
    published = output.published_at
    return Extraction(
        text=output.body,
        title=output.title,
        authors=[a.name for a in output.authors],
        published=published.date() if isinstance(published, datetime) else None,
    )


def resolve_extractors(
    extractors: Sequence[str] | Mapping[str, ExtractorFn],
) -> dict[str, ExtractorFn]:
    if isinstance(extractors, Mapping):
        return dict(extractors)
    resolved: dict[str, ExtractorFn] = {}
    for name in extractors:
        if name not in EXTRACTORS:
            raise ConfigError(f"unknown extractor {name!r}; known: {', '.join(EXTRACTORS)}")
        resolved[name] = EXTRACTORS[name]
    return resolved


# --- running --------------------------------------------------------------------------------


def _reason(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


_WARM_UP_PAGE = (
    b"<html><head><title>Warm-up</title></head><body><article><h1>Warm-up</h1>"
    b"<p>A first call loads lazy resources; it is not timed.</p></article></body></html>"
)


def _warm_up(fn: ExtractorFn) -> None:
    """One untimed call on a tiny page of our own, so one-off loading is not billed to page 1."""
    with contextlib.suppress(Exception):
        fn(_WARM_UP_PAGE, "https://example.invalid/warm-up")


def run_page(fn: ExtractorFn, page: CorpusPage, html: bytes) -> PageResult:
    """Call one extractor on one page, time only that call, and score what it returned."""
    status: Literal["ok", "empty", "not_article", "failed"] = "ok"
    reason: str | None = None
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        output = fn(html, page_address(page))
    except NotAnArticle as exc:
        output, status, reason = None, "not_article", _reason(exc)
    except Exception as exc:
        output, status, reason = None, "failed", _reason(exc)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    try:
        found = as_extraction(output)
    except (ValidationError, AttributeError, TypeError) as exc:
        found, status = Extraction(), "failed"
        reason = f"unusable output {type(output).__name__}: {_reason(exc)}"
    if status == "ok" and not found.text.strip():
        status = "empty"
    result = PageResult(
        page_id=page.id, status=status, seconds=seconds, cpu_seconds=cpu_seconds, reason=reason
    )
    if page.body is not None:
        return result.model_copy(
            update={
                "shingles": shingle_match(page.body, found.text),
                "exact": tokenize(page.body) == tokenize(found.text),
            }
        )
    return result.model_copy(
        update={
            "snippets": score_snippets(found.text, page.with_snippets, page.without_snippets),
            "title": match_title(page.title, found.title),
            "author": match_authors(page.author, found.authors),
            "date": match_date(page.date, found.published),
        }
    )


def field_score(results: Sequence[PageResult], field: str) -> FieldScore:
    verdicts = [v for r in results if (v := getattr(r, field)) is not None]
    correct = sum(verdicts)
    return FieldScore(
        correct=correct,
        annotated=len(verdicts),
        accuracy=correct / len(verdicts) if verdicts else None,
    )


def summarize(
    name: str, fmt: CorpusFormat, results: Sequence[PageResult], n_bootstrap: int = 1000
) -> ExtractorReport:
    """Aggregate one extractor's page results into its report."""
    seconds = sum(r.seconds for r in results)
    failed = [r for r in results if r.status == "failed"]
    report = ExtractorReport(
        name=name,
        pages=len(results),
        seconds=seconds,
        pages_per_second=len(results) / seconds if seconds > 0 else None,
        ms_per_page=1000 * seconds / len(results) if results else None,
        cpu_ms_per_page=1000 * sum(r.cpu_seconds for r in results) / len(results)
        if results
        else None,
        empty=sum(r.status == "empty" for r in results),
        not_articles=sum(r.status == "not_article" for r in results),
        failures=len(failed),
        failure_samples=[
            PageFailure(page_id=r.page_id, reason=r.reason or "") for r in failed[:FAILURE_SAMPLES]
        ],
        page_results=list(results),
    )
    if fmt == "aeb":
        report.shingles = shingle_scores(
            [r.shingles for r in results if r.shingles is not None],
            [bool(r.exact) for r in results],
            n_bootstrap=n_bootstrap,
        )
    else:
        report.snippets = snippet_scores(r.snippets for r in results if r.snippets is not None)
        report.fields = {f: field_score(results, f) for f in SCORED_FIELDS}
    return report


def run_evaluation(
    path: Path,
    *,
    fmt: str = "auto",
    limit: int | None = None,
    extractors: Sequence[str] | Mapping[str, ExtractorFn] = ("newsdesk", "trafilatura"),
    n_bootstrap: int = 1000,
) -> EvalReport:
    """Score each extractor on every page of the corpus at `path`.

    `extractors` names built-in extractors (see `EXTRACTORS`) or maps report names to
    callables. Each page is read once and handed to every extractor in turn; a page that
    cannot be read is listed in `skipped_pages` and left out for all of them."""
    corpus = load_corpus(Path(path), fmt, limit)
    fns = resolve_extractors(extractors)
    if not fns:
        raise ConfigError("no extractor to evaluate")
    for fn in fns.values():
        _warm_up(fn)
    results: dict[str, list[PageResult]] = {name: [] for name in fns}
    skipped = list(corpus.problems)
    pages_read = 0
    for page in corpus.pages:
        try:
            html = read_page(page.file)
        except (OSError, EOFError, zlib.error) as exc:
            skipped.append(PageFailure(page_id=page.id, reason=f"{page.file}: {_reason(exc)}"))
            continue
        pages_read += 1
        for name, fn in fns.items():
            results[name].append(run_page(fn, page, html))
    return EvalReport(
        corpus=str(corpus.path),
        format=corpus.format,
        pages=pages_read,
        skipped_pages=skipped,
        extractors=[summarize(n, corpus.format, r, n_bootstrap) for n, r in results.items()],
    )


# --- rendering ------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _pct_std(value: float, std: float | None) -> str:
    return _pct(value) if std is None else f"{_pct(value)} ± {_pct(std)}"


def _field(score: FieldScore | None) -> str:
    if score is None or score.accuracy is None:
        return "–"
    return f"{_pct(score.accuracy)} ({score.correct}/{score.annotated})"


def _rate(value: float | None, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def render_table(report: EvalReport) -> Table:
    """The extractors side by side, one metric per row (percentages)."""
    table = Table(
        title=f"{report.corpus} ({report.format}, {report.pages} pages)",
        caption=_caption(report),
    )
    table.add_column("metric")
    for ex in report.extractors:
        table.add_column(ex.name, justify="right")
    exs = report.extractors
    metrics = ("precision", "recall", "f1", "accuracy")
    rows: list[tuple[str, list[str]]] = []
    if report.format == "aeb":
        rows += [(f"shingle {m}", [_shingle_cell(e, m) for e in exs]) for m in metrics]
    else:
        rows += [(f"main text {m}", [_snippet_cell(e, m) for e in exs]) for m in metrics]
        rows += [(f"{f} accuracy", [_field(e.fields.get(f)) for e in exs]) for f in SCORED_FIELDS]
    rows += [
        ("pages/second", [_rate(e.pages_per_second, ".1f") for e in exs]),
        ("ms/page", [_rate(e.ms_per_page, ".1f") for e in exs]),
        ("CPU ms/page", [_rate(e.cpu_ms_per_page, ".1f") for e in exs]),
        ("empty output", [str(e.empty) for e in exs]),
        ("not an article", [str(e.not_articles) for e in exs]),
        ("failures", [str(e.failures) for e in exs]),
    ]
    for label, cells in rows:
        table.add_row(label, *cells)
    return table


def _snippet_cell(ex: ExtractorReport, metric: str) -> str:
    return "–" if ex.snippets is None else _pct(getattr(ex.snippets, metric))


def _shingle_cell(ex: ExtractorReport, metric: str) -> str:
    s = ex.shingles
    return "–" if s is None else _pct_std(getattr(s, metric), getattr(s, f"{metric}_std"))


def _caption(report: EvalReport) -> str | None:
    lines = [
        f"{ex.name} failed on {f.page_id}: {f.reason}"
        for ex in report.extractors
        for f in ex.failure_samples[:1]
    ]
    if report.skipped_pages:
        lines.append(f"{len(report.skipped_pages)} pages skipped, e.g. {report.skipped_pages[0]}")
    return "\n".join(lines) or None


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m newsdesk.evaluation CORPUS`: the same run as `newsdesk eval`."""
    from rich.console import Console

    parser = argparse.ArgumentParser(prog="python -m newsdesk.evaluation")
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--format", default="auto", choices=("auto", *FORMATS))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--extractor",
        action="append",
        choices=tuple(EXTRACTORS),
        help="repeat for several (default: newsdesk and trafilatura)",
    )
    args = parser.parse_args(argv)
    console = Console()
    try:
        report = run_evaluation(
            args.corpus,
            fmt=args.format,
            limit=args.limit,
            extractors=args.extractor or ("newsdesk", "trafilatura"),
        )
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        console.print(render_table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
