"""The benchmark suite itself runs, at tiny sizes, and its counts add up (no timing is
asserted: speed figures are for bench/RESULTS.md, not for tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import end_to_end, extraction, indexing, peers, spy
from bench.results import SECTION, Machine, append
from bench.site import SiteSpec, expected_counts

DEV = extraction.DEV_CORPUS


def test_extraction_benchmark_runs() -> None:
    res = extraction.main(
        [
            "--limit",
            "0",
            "--site-pages",
            "3",
            "--rounds",
            "1",
            "--scaling-loops",
            "20000",
            "--no-record",
        ]
    )
    assert list(res["sets"]) == ["synthetic site"]
    site = res["sets"]["synthetic site"]
    one, pool = site["one_core"], site["all_cores"]
    assert one["pages"] == pool["pages"] == 3
    assert one["produced"]["ours"] == pool["articles"]["one"] == pool["articles"]["pool"] == 3
    assert one["ours_pps"] > 0
    assert one["trafilatura_pps"] > 0
    assert pool["restarts"] == 0
    assert res["machine_scaling"] > 0


@pytest.mark.skipif(not DEV.is_dir(), reason="extraction-dev corpus not in ../shared")
def test_extraction_dev_pages_are_read_from_shared() -> None:
    pages = extraction.dev_pages(DEV, 2)
    assert len(pages) == 2
    assert all(html.lstrip().startswith(b"<") and url.startswith("http") for html, url in pages)


@pytest.mark.es
def test_indexing_benchmark_loads_every_document(es_url: str) -> None:
    res = indexing.main(
        ["--docs", "30", "--distinct", "3", "--rounds", "1", "--chunks", "7", "--no-record"]
    )
    assert res["docs"] == 30
    assert res["writer_dps"] > 0
    assert res["raw_dps"] > 0
    assert [s["chunk"] for s in res["sweep"]] == [7]


@pytest.mark.es
def test_end_to_end_counts_add_up(es_url: str, prefect_api_url: str) -> None:
    spec = SiteSpec(
        articles=40,
        feeds=3,
        seed=9,
        cross_post_rate=0.1,
        syndicated_rate=0.05,
        gallery_rate=0.05,
        broken_rate=0.05,
    )
    exp = expected_counts(spec)
    assert exp.broken > 0
    assert exp.cross_posts > 0
    res = end_to_end.measure(spec, direct=False, pool_pages=0)
    first, again = res["first"]["counts"], res["repoll"]["counts"]

    assert first["entries"] == exp.entries
    assert first["fetched"] == exp.fetched
    assert first["indexed"] + first["skipped"] + first["failed"] == exp.entries
    assert first["failed"] == exp.broken
    assert res["first"]["pages_served"] == exp.fetched
    # Syndicated copies fold into their original (same canonical URL, same id).
    assert first["in_index"] <= exp.fetched - exp.syndicated
    assert first["in_index"] >= exp.articles - exp.updates

    # Unchanged feeds answer 304 (or hash the same), so nothing is fetched again.
    assert again["fetched"] == 0
    assert again["indexed"] == 0
    assert res["repoll"]["pages_served"] == 0
    assert again["in_index"] == first["in_index"]
    assert res["first"]["max_rss_mb"] > 0

    cpu = res["first"]["cpu"]
    assert cpu["ingest process"] > 0
    assert cpu["extraction workers (reaped)"] >= 0
    assert {"Elasticsearch", "Prefect server", "synthetic site server"} <= set(cpu)

    report = end_to_end._report(res, Machine().stop(), "cmd")
    assert "CPU during the first ingest" in report
    assert "Figure 4" in report
    assert "Figure 5" in report


@pytest.mark.skipif(not DEV.is_dir(), reason="extraction-dev corpus not in ../shared")
def test_peers_benchmark_scores_ours_and_trafilatura() -> None:
    figures = peers.main(["--limit", "2", "--no-record"])
    assert {"newsdesk", "trafilatura"} <= set(figures)
    assert all(0.0 <= f["f1"] <= 1.0 for f in figures.values())


def test_results_are_appended_under_one_section(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmark results\n\n## Someone else's section\n\nkept\n")
    append("first", "figures 1", path)
    append("second", "figures 2", path)
    text = path.read_text()
    assert text.startswith("# Benchmark results\n\n## Someone else's section\n\nkept\n")
    assert text.count(SECTION) == 1
    assert text.index("### first") < text.index("### second")


def test_a_gil_profile_is_charged_to_prefect_stages_and_glue(tmp_path: Path) -> None:
    """`bench/spy.py` on collapsed stacks as `py-spy record --format raw` writes them."""
    main = "thread (1): MainThread;run_flow (prefect/flow_engine.py:10)"
    stage = f"{main};extract_articles (flows/ingest.py:5);extract_pages (newsdesk/ingest.py:9)"
    profile = tmp_path / "gil.txt"
    profile.write_text(
        f"{stage};build_article (newsdesk/ingest.py:20);model_validate (pydantic/main.py:1) 30\n"
        f"{stage};visit_collection (prefect/utilities/collections.py:3) 5\n"
        f"{main};_account (flows/ingest.py:40);emit_event (prefect/events/utilities.py:2) 10\n"
        f"{main};_ingest_fresh (flows/ingest.py:30) 5\n"
        "thread (2): ThreadPoolExecutor-0_0;_worker (concurrent/futures/thread.py:1) 50\n"
    )
    prof = spy.read(profile)
    assert prof.samples == 100
    assert prof.by_charge == {
        "extract_pages": 30,
        "Prefect": 15,
        "other of ours": 5,
        "outside both": 50,
    }
    assert spy.prefect_share(prof, wall=10.0, rate=10) == 0.15
    rows = spy.rows(prof, wall=10.0, rate=10)
    assert rows[0] == ["all (GIL held by any thread)", "100.0%", ""]
    assert ["extract_pages", "30.0%", "pydantic 100%"] in rows
