"""The search-latency benchmark runs end to end at a tiny size, so its code cannot rot (the
real run, 100,000 articles, is `uv run python -m bench.search_latency`; see bench/RESULTS.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.search_latency import Timing, main

pytestmark = pytest.mark.es


def test_benchmark_runs_and_appends_a_section(es_url: str, tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## Someone else's section\n\nkept\n")
    args = ["--articles", "300", "--requests", "6", "--warmup", "2", "--es-url", es_url]
    args += ["--cache", "off"]
    assert main([*args, "--fresh", "--drop", "--results", str(results)]) == 0
    text = results.read_text("utf-8")
    assert text.startswith("# Benchmark results\n\n## Someone else's section\n\nkept\n")
    assert "## Search latency: `/search` vs Elasticsearch" in text
    assert "| off | `GET /search` (API) |" in text
    assert "| off | same body to `_search` |" in text
    assert "CPUs (`nproc`)" in text
    assert "--articles 300" in text


def test_report_verdict() -> None:
    report = Timing("off", [30, 31, 32, 40], [20, 21, 22, 25])
    ok, detail = report.verdict()
    assert not ok
    assert "p50: API adds 10.0 ms (budget 10.0 ms) OK" in detail
    assert "OVER" in detail
    fast = Timing("on", [100, 110], [95, 100])
    assert fast.verdict()[0]
