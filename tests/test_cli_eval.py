"""`newsdesk eval` prints the evaluation report (the scoring itself is tested in
tests/test_evaluation.py)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from newsdesk.cli import app

CORPUS = Path(__file__).parent / "fixtures" / "eval" / "dev"


def test_eval_prints_a_json_report() -> None:
    result = CliRunner().invoke(app, ["eval", str(CORPUS), "--extractor", "trafilatura", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [ex["name"] for ex in report["extractors"]] == ["trafilatura"]
    assert report["pages"] == 3


def test_eval_names_a_bad_corpus(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["eval", str(tmp_path)])
    assert result.exit_code == 2
    assert str(tmp_path) in result.output
