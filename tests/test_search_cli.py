"""The CLI faces of search (`newsdesk search`, `quotes`, `export`, `submit`) on the corpus."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsdesk.cli import app
from newsdesk.settings import get_settings
from tests.corpus import HOSTILE_TITLE, CorpusIndex, indexed_corpus

pytestmark = pytest.mark.es


@pytest.fixture(scope="module")
def ci(es_url: str) -> Iterator[CorpusIndex]:
    with indexed_corpus(es_url) as index:
        yield index


@pytest.fixture
def cli(ci: CorpusIndex, es_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("NEWSDESK_ES_URL", es_url)
    monkeypatch.setenv("NEWSDESK_INDEX_ALIAS", ci.settings.index_alias)
    monkeypatch.setenv("NEWSDESK_DATA_DIR", str(ci.settings.data_dir))
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def run(cli: CliRunner, *args: str, code: int = 0) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_search_json_with_filters_and_paging(cli: CliRunner, ci: CorpusIndex) -> None:
    args = ["search", "--person", "Ingrid Vos", "--has-quotes", "--duplicates", "--limit", "7"]
    page = json.loads(run(cli, *args, "--json"))
    found = [h["article"]["id"] for h in page["hits"]]
    while page["next_cursor"]:
        page = json.loads(run(cli, *args, "--json", "--cursor", page["next_cursor"]))
        found += [h["article"]["id"] for h in page["hits"]]
    expected = {
        a.id
        for a in ci.articles
        if a.quotes and any(e.kind == "person" and e.name == "Ingrid Vos" for e in a.entities)
    }
    assert len(found) == len(set(found))
    assert set(found) == expected


def test_search_table_shows_copies_facets_and_timeline(cli: CliRunner) -> None:
    out = run(cli, "search", "harbour", "--facets", "--limit", "40")
    assert "copies" in out
    assert "Facets" in out
    assert "per week" in out or "per month" in out
    assert "next page: --cursor" in out


def test_search_prints_hostile_text_as_text(cli: CliRunner) -> None:
    out = run(cli, "search", "onerror crane", "--duplicates", "--limit", "20")
    assert "<script>" in out  # printed literally, not interpreted
    assert HOSTILE_TITLE.split("<script>")[0] in out


@pytest.mark.parametrize("query", ['"unclosed', "title:", "((", "- OR"])
def test_odd_syntax_still_searches(cli: CliRunner, query: str) -> None:
    run(cli, "search", "--", query)


def test_bad_options_exit_2_naming_the_problem(cli: CliRunner) -> None:
    out = run(cli, "search", "--since", "yesterday", code=2)
    assert "since" in out
    assert "invalid search option" in run(cli, "search", " ".join(["w"] * 70), code=2)


def test_quotes(cli: CliRunner, ci: CorpusIndex) -> None:
    body = json.loads(run(cli, "quotes", "--speaker", "Kenji Sato", "--limit", "100", "--json"))
    assert body["quotes"] == sum(
        1 for a in ci.articles for q in a.quotes if q.speaker == "Kenji Sato"
    )
    out = run(cli, "quotes", "harbour", "--speaker", "Ingrid Vos")
    assert "Ingrid Vos" in out
    assert "give words of the quote" in run(cli, "quotes", code=2)


def test_export_to_file_and_stdout(cli: CliRunner, ci: CorpusIndex, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    run(cli, "export", "--source", "metro-daily", "--fields", "id,title,authors", "-o", str(target))
    rows = list(csv.DictReader(io.StringIO(target.read_text("utf-8"))))
    assert {r["id"] for r in rows} == {a.id for a in ci.articles if a.source == "metro-daily"}
    assert len(rows) == len({r["id"] for r in rows})
    out = run(cli, "export", "--language", "fr", "--format", "jsonl", "--fields", "id,language")
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert {r["id"] for r in records} == {a.id for a in ci.articles if a.language == "fr"}
    assert "unknown export field" in run(cli, "export", "--fields", "id,nope", code=2)


def test_submit(cli: CliRunner, ci: CorpusIndex) -> None:
    out = run(
        cli,
        "submit",
        "https://news.example/cli-story",
        ci.articles[1].url,
        "http://127.0.0.2/x",
        "gopher://x",
        "--json",
    )
    body = json.loads(out)
    assert [a["url"] for a in body["accepted"]] == ["https://news.example/cli-story"]
    reasons = sorted(r["reason"].split(":")[0].split(" (")[0] for r in body["refused"])
    assert reasons == ["already indexed", "blocked address", "invalid URL"]
    run(cli, "submit", "ftp://only-bad", code=1)
