"""The soak benchmark (bench/soak.py) runs at a tiny size: faults are injected, searches run
alongside, and its exactly-once check passes. The hour-long run is recorded in
bench/RESULTS.md; this keeps the script from rotting."""

from __future__ import annotations

import pytest

from bench import soak

pytestmark = [pytest.mark.es, pytest.mark.usefixtures("prefect_api_url")]


def test_a_short_soak_injects_faults_and_ends_exactly_once() -> None:
    res = soak.main(
        ["--minutes", "1.5", "--articles", "60", "--feeds", "3", "--pause", "2", "--no-record"]
    )
    log, check = res["log"], res["check"]
    assert log.faults, "no fault was injected"
    assert log.runs, "no ingest run finished"
    assert log.searches["ok"] > 0
    assert log.samples, "the ingest process's memory was never sampled"
    assert check["problems"] == []
    assert check["duplicate_urls"] == 0
    assert check["left_pending"] == 0
    assert check["missing"] == 0
    assert check["documents"] >= check["expected"] > 0
