"""Figure 4's memory question without a full 50,000-article ingest: what the flow holds before
its first page is fetched, at two site sizes.

The `poll-sources` flow polls its group's feeds into one list, dedupes it and asks the index
which entries are known; the `ingest` flow does the same per round of at most about
`round_entries` entries (`flows.ingest._rounds`), then batches grow with the round
(`batch_bounds`). This runs those stages (`poll_sources`, `dedupe_entries`, `split_known`) on
all the site's feeds at once, in a child process per size against the synthetic site and a
fresh index, and reports the child's peak RSS and whether each stage succeeded, beside the
batch size the flow would choose and the page bytes such a batch holds. With `--batches B`
(default 2) it then runs the first B batches through fetch, the extraction pool, index and
record as the flow does (outcomes into a `RunSummary`), and reports the peak RSS with those
batches in flight: if the pages a batch holds grow with the run, so does that peak.

    uv run python -m bench.memory --sizes 10000,50000
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.results import Machine, append, command, say, table
from bench.services import bench_settings, drop_index, elasticsearch
from bench.site import SiteSpec, serve
from newsdesk.settings import Settings


def child(config: dict[str, Any]) -> dict[str, Any]:
    from bench.end_to_end import _sources, peak_rss_mb
    from flows.ops_settings import OpsSettings
    from newsdesk import ingest as stages
    from newsdesk.es_client import connect
    from newsdesk.fetch import Fetcher
    from newsdesk.index import ensure_index
    from newsdesk.ingest import RunStats
    from newsdesk.models import RunSummary
    from newsdesk.parallel import shared_pool

    settings = Settings.model_validate(config["settings"])
    ops = OpsSettings()
    out: dict[str, Any] = {}
    client = connect(settings)
    try:
        ensure_index(client, settings)
        start = time.perf_counter()
        with Fetcher(settings) as fetcher:
            polls = stages.poll_sources(client, fetcher, settings, _sources(config["feeds"]))
        entries = [e for poll in polls for e in poll.entries]
        out["entries"] = len(entries)
        out["poll_s"] = time.perf_counter() - start
        out["rss_after_poll_mb"] = peak_rss_mb()
        unique, _ = stages.dedupe_entries(entries)
        out["unique"] = len(unique)
        try:
            fresh, _ = stages.split_known(client, settings, unique)
            out["split_known"] = f"ok ({len(fresh)} fresh)"
        except Exception as exc:
            out["split_known"] = f"failed: {type(exc).__name__}: {str(exc)[:160]}"
            fresh = unique
        bounds = stages.batch_bounds(
            len(fresh),
            settings.batch_size,
            max_batches=ops.max_batches,
            max_batch_size=ops.max_batch_size,
        )
        out["batch_size"] = bounds[0][1] - bounds[0][0] if bounds else 0
        summary, stats = RunSummary(), RunStats()
        with Fetcher(settings) as fetcher:
            for start, end in bounds[: config["batches"]]:
                batch = fresh[start:end]
                fetched, failed = stages.fetch_pages(
                    fetcher, batch, concurrency=settings.fetch_concurrency
                )
                articles, skipped = stages.extract_pages(fetched, shared_pool())
                outcomes = [*failed, *skipped]
                outcomes += stages.index_articles(client, settings, articles)
                stages.record_outcomes(client, settings, batch, outcomes, articles)
                for outcome in outcomes:
                    summary.add(outcome)
                    stats.outcome(outcome)
        out["batches_run"] = min(len(bounds), config["batches"])
        out["indexed"] = summary.indexed
        out["rss_after_batches_mb"] = peak_rss_mb()
    finally:
        client.close()
        from newsdesk import parallel

        if parallel._shared is not None:
            parallel._shared.close()
    out["max_rss_mb"] = peak_rss_mb()
    return out


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    argv = list(argv) if argv is not None else sys.argv[1:]
    if argv[:1] == ["--child"]:
        print(json.dumps(child(json.loads(argv[1]))))
        return []
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--sizes", default="10000,50000")
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--page-kb", type=float, default=175.0, help="mean page size")
    parser.add_argument(
        "--batches", type=int, default=2, help="batches to ingest after the known-check"
    )
    parser.add_argument("--results", default=None)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    machine = Machine()
    rows: list[dict[str, Any]] = []
    data = Path(tempfile.mkdtemp(prefix="newsdesk-bench-data-"))
    with elasticsearch() as es_url:
        for size in [int(s) for s in args.sizes.split(",")]:
            spec = SiteSpec(articles=size, feeds=args.feeds)
            settings = bench_settings(es_url, data_dir=data / str(size))
            say(f"{size} articles")
            try:
                with serve(spec) as site:
                    config = {
                        "settings": json.loads(settings.model_dump_json()),
                        "feeds": site.feed_urls(),
                        "batches": args.batches,
                    }
                    proc = subprocess.run(
                        [sys.executable, "-m", "bench.memory", "--child", json.dumps(config)],
                        capture_output=True,
                        text=True,
                        check=False,
                    )
            finally:
                drop_index(settings)
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr[-3000:])
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            row["articles"] = size
            row["batch_page_mb"] = row["batch_size"] * args.page_kb / 1024
            rows.append(row)
    shutil.rmtree(data, ignore_errors=True)
    machine.stop()
    report = "\n".join(
        [
            machine.line(),
            "",
            f"Command: `{command('bench.memory', argv)}`",
            "",
            table(
                [
                    "articles",
                    "feed entries",
                    "peak RSS after polling (MB)",
                    "split_known",
                    "flow's batch size",
                    "page bytes per batch (MB)",
                    "batches ingested (articles indexed)",
                    "peak RSS with them (MB)",
                ],
                [
                    [
                        r["articles"],
                        r["entries"],
                        r["rss_after_poll_mb"],
                        r["split_known"],
                        r["batch_size"],
                        r["batch_page_mb"],
                        f"{r['batches_run']} ({r['indexed']})",
                        r["rss_after_batches_mb"],
                    ]
                    for r in rows
                ],
            ),
        ]
    )
    print(report)
    if not args.no_record:
        append(
            "Figure 4, memory: what the flow holds before fetching",
            report,
            Path(args.results) if args.results else None,
        )
    return rows


if __name__ == "__main__":
    main()
