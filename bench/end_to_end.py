"""Figures 4 and 5: `ingest` of the whole synthetic site into a fresh index, then again.

The site runs in its own process on 127.0.0.1; Elasticsearch and a real Prefect server are
started for the run (or named by `NEWSDESK_ES_URL` / `PREFECT_API_URL`). Each ingest runs the
Prefect flow `flows.ingest.ingest` in a child process of its own, so its peak RSS is the
ingest's alone (worker processes are measured apart). Inside the child the pipeline's stage
functions (`newsdesk.ingest.*`, which the flow's tasks call) are timed. The flow runs its
stages in a pipeline, so their times overlap and the wall time minus them no longer says what
Prefect costs: `--profile FILE` runs the first ingest under py-spy and charges the time the
process holds the GIL to Prefect's code, each stage and the flow's glue (`bench/spy.py`).
`--direct` also runs the same stages without Prefect, one batch after another.

Figure 5 (re-poll) is the second ingest of the unchanged site into the same index: its wall
time against the first, and the number of article pages the site served during it (must be 0).

    uv run python -m bench.end_to_end --articles 10000 --feeds 50
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import Any

from bench import cpu, spy
from bench.results import OUT, Machine, append, command, say, table, verdict
from bench.services import bench_settings, drop_index, elasticsearch, prefect_api
from bench.site import ServedSite, SiteSpec, expected_counts, serve
from newsdesk.settings import Settings

STAGES = spy.STAGES


# --- the child: one ingest, measured ---------------------------------------------------------


def _timed_stages() -> dict[str, float]:
    """Wrap the stage functions the flow's tasks call; returns the live seconds per stage."""
    from newsdesk import ingest as stages

    spent = dict.fromkeys(STAGES, 0.0)

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - start

        return timed

    for name in STAGES:
        setattr(stages, name, wrap(name, getattr(stages, name)))
    return spent


def _sources(feed_urls: list[str]) -> list[Any]:
    from newsdesk.sources import SourceConfig

    return [
        SourceConfig.model_validate({"name": f"desk-{k:03d}", "url": url})
        for k, url in enumerate(feed_urls)
    ]


def _direct(settings: Settings, feed_urls: list[str]) -> dict[str, int]:
    """The flow's stages called in order without Prefect (same batching as the flow's)."""
    from flows.ops_settings import OpsSettings
    from newsdesk import ingest as stages
    from newsdesk.es_client import connect
    from newsdesk.fetch import Fetcher
    from newsdesk.index import ensure_index, refresh
    from newsdesk.models import Status
    from newsdesk.parallel import shared_pool

    ops = OpsSettings()
    client = connect(settings)
    counts = {"indexed": 0, "entries": 0, "fetched": 0}
    try:
        ensure_index(client, settings)
        with Fetcher(settings) as fetcher:
            polls = stages.poll_sources(client, fetcher, settings, _sources(feed_urls))
            entries = [e for poll in polls for e in poll.entries]
            counts["entries"] = len(entries)
            unique, _ = stages.dedupe_entries(entries)
            fresh, _ = stages.split_known(client, settings, unique)
            bounds = stages.batch_bounds(
                len(fresh),
                settings.batch_size,
                max_batches=ops.max_batches,
                max_batch_size=ops.max_batch_size,
            )
            for start, end in bounds:
                batch = fresh[start:end]
                fetched, failed = stages.fetch_pages(
                    fetcher, batch, concurrency=settings.fetch_concurrency
                )
                counts["fetched"] += len(fetched)
                articles, skipped = stages.extract_pages(fetched, shared_pool())
                outcomes = [*failed, *skipped, *stages.index_articles(client, settings, articles)]
                stages.record_outcomes(client, settings, batch, outcomes, articles)
                counts["indexed"] += sum(o.status is Status.INDEXED for o in outcomes)
        refresh(client, settings)
    finally:
        client.close()
    return counts


def peak_rss_mb() -> float:
    """This process's peak RSS since its exec (VmHWM; `ru_maxrss` would carry over the
    parent's peak across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(config: dict[str, Any]) -> dict[str, Any]:
    settings = Settings.model_validate(config["settings"])
    spent = _timed_stages()
    from newsdesk import parallel

    start = time.perf_counter()
    if config["mode"] == "direct":
        counts = _direct(settings, config["feeds"])
    else:
        from flows.ingest import ingest

        summary = ingest(sources=_sources(config["feeds"]), settings=settings)
        counts = {
            "entries": summary.entries_found,
            "fetched": summary.fetched,
            "indexed": summary.indexed,
            "skipped": summary.skipped,
            "failed": summary.failed,
            "feeds_failed": summary.feeds_failed,
        }
    wall = time.perf_counter() - start
    if parallel._shared is not None:
        parallel._shared.close()
    from newsdesk.es_client import connect

    client = connect(settings)
    try:
        client.indices.refresh(index=settings.index_alias)
        counts["in_index"] = int(client.count(index=settings.index_alias)["count"])
    finally:
        client.close()
    return {
        "mode": config["mode"],
        "wall": wall,
        "stages": spent,
        "counts": counts,
        "max_rss_mb": peak_rss_mb(),
        "worker_max_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "cpu": {
            "ingest process": _cpu(resource.RUSAGE_SELF),
            "extraction workers (reaped)": _cpu(resource.RUSAGE_CHILDREN),
        },
    }


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


# --- the parent: services, runs, report ------------------------------------------------------


SPY_RATE = 50
PY_SPY = ["py-spy", "record", "--gil", "--nonblocking", "--format", "raw", "--rate", str(SPY_RATE)]
"""Samples of whichever thread holds the GIL (bench/spy.py reads them)."""
PY_SPY_WALL = [*PY_SPY[:2], "--idle", "--threads", *PY_SPY[3:]]
"""Every thread, waiting or not: what the flow's main thread waits on, for reading by hand."""


def run_ingest(
    settings: Settings,
    site: ServedSite,
    api_url: str,
    mode: str = "flow",
    profile: Path | None = None,
    spy_argv: list[str] | None = None,
) -> dict[str, Any]:
    """One ingest in a child process; adds the article pages the site served meanwhile.
    With `profile`, the child runs under `py-spy record` (`spy_argv`, default `PY_SPY`),
    writing to that file."""
    config = {
        "mode": mode,
        "settings": json.loads(settings.model_dump_json()),
        "feeds": site.feed_urls(),
    }
    env = {
        **os.environ,
        "PREFECT_API_URL": api_url,
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    served = site.pages_served()
    services = cpu.snapshot()
    argv = [sys.executable, "-m", "bench.end_to_end", "--child", json.dumps(config)]
    if profile is not None:
        argv = [*(spy_argv or PY_SPY), "-o", str(profile), "--", *argv]
    proc = subprocess.run(
        argv,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"ingest child failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    last = [line for line in proc.stdout.splitlines() if line.startswith("{")][-1]
    result: dict[str, Any] = json.loads(last)
    result["pages_served"] = site.pages_served() - served
    result["cpu"] = {**result.get("cpu", {}), **cpu.since(services)}
    return result


def measure(
    spec: SiteSpec,
    *,
    direct: bool,
    pool_pages: int,
    profile: Path | None = None,
    spy_argv: list[str] | None = None,
) -> dict[str, Any]:
    expected = expected_counts(spec)
    out: dict[str, Any] = {"spec": spec.__dict__, "expected": expected.__dict__}
    data = Path(tempfile.mkdtemp(prefix="newsdesk-bench-data-"))
    try:
        with elasticsearch() as es_url, prefect_api() as api_url, serve(spec) as site:
            settings = bench_settings(es_url, data_dir=data / "first")
            try:
                say(f"first ingest of {spec.articles} pages")
                out["first"] = run_ingest(
                    settings, site, api_url, profile=profile, spy_argv=spy_argv
                )
                say(f"first: {out['first']['wall']:.1f}s; re-poll")
                out["repoll"] = run_ingest(settings, site, api_url)
            finally:
                drop_index(settings)
            if direct:
                plain = bench_settings(es_url, data_dir=data / "direct")
                try:
                    say("the same stages without Prefect")
                    out["direct"] = run_ingest(plain, site, api_url, mode="direct")
                finally:
                    drop_index(plain)
        out["warc_mb"] = sum(f.stat().st_size for f in data.rglob("*") if f.is_file()) / 1e6
    finally:
        shutil.rmtree(data, ignore_errors=True)
    if pool_pages:
        from bench.extraction import all_cores, site_pages

        say(f"figure 2 on {pool_pages} pages of the same site, for the ratio")
        out["pool"] = all_cores(site_pages(pool_pages, spec.seed), 1, os.cpu_count() or 1)
    return out


def _report(res: dict[str, Any], machine: Machine, cmd: str) -> str:
    first, repoll, spec = res["first"], res["repoll"], res["spec"]
    exp = res["expected"]
    rate = first["counts"]["indexed"] / first["wall"]
    in_stages = sum(first["stages"].values())
    bookkeeping = max(0.0, first["wall"] - in_stages) / first["wall"]
    lines = [
        machine.line(),
        "",
        f"Command: `{cmd}`",
        "",
        f"Site: {spec['articles']} pages across {spec['feeds']} feeds (seed {spec['seed']}); "
        f"expected {exp['entries']} feed entries, {exp['cross_posts']} cross-posted links, "
        f"{exp['broken']} 404s, {exp['galleries']} galleries, {exp['syndicated']} syndicated "
        f"copies, {exp['updates']} near-duplicate updates.",
        "",
        "Figure 4 — first `ingest` (Prefect flow, fresh index):",
        "",
        table(
            ["", "value"],
            [
                ["wall time (s)", first["wall"]],
                ["counts", json.dumps(first["counts"])],
                ["articles/second", rate],
                ["time inside the stage functions (s)", in_stages],
                *[[f"  {k}", v] for k, v in first["stages"].items()],
                [
                    "Prefect + flow glue (wall − stages)",
                    f"{100 * bookkeeping:.1f}% ({verdict(bookkeeping, 0.05, above=False)}, "
                    "target < 5%)"
                    if in_stages < first["wall"]
                    else "— (the stages overlap: their times add up past the wall time; "
                    "see the profile)",
                ],
                [
                    "peak RSS of the ingest process (MB)",
                    f"{first['max_rss_mb']:.0f} ({verdict(first['max_rss_mb'], 1024, above=False)}"
                    ", target < 1 GB)",
                ],
                [
                    "peak RSS of one extraction worker (MB, an upper bound: ru_maxrss)",
                    first["worker_max_rss_mb"],
                ],
                ["WARC archive written (MB, both runs)", res.get("warc_mb", 0.0)],
            ],
        ),
    ]
    if first.get("cpu"):
        cores = os.cpu_count() or 1
        budget = cores * first["wall"]
        used = first["cpu"]
        rest = budget - sum(used.values())
        lines += [
            "",
            f"CPU during the first ingest ({cores} cores × {first['wall']:.0f} s = "
            f"{budget:.0f} CPU seconds; figure 2 gives the extraction workers all of it):",
            "",
            table(
                ["process", "CPU seconds", "share of the machine"],
                [
                    *[
                        [name, f"{sec:.0f}", f"{100 * sec / budget:.0f}%"]
                        for name, sec in sorted(used.items(), key=lambda kv: -kv[1])
                    ],
                    ["idle, py-spy and the rest", f"{rest:.0f}", f"{100 * rest / budget:.0f}%"],
                ],
            ),
        ]
    if "profile" in res:
        prof = spy.read(Path(res["profile"]))
        share = spy.prefect_share(prof, first["wall"], SPY_RATE)
        lines += [
            "",
            f"Where the ingest process's time goes (py-spy `--gil`, {prof.samples} samples at "
            f"{SPY_RATE} Hz over {first['wall']:.0f} s; `bench/spy.py`): Prefect's own code "
            f"held the GIL {100 * share:.1f}% of the wall time "
            f"({verdict(share, 0.05, above=False)}, target < 5%).",
            "",
            table(
                ["charged to", "share of wall time", "at the leaf"],
                spy.rows(prof, first["wall"], SPY_RATE),
            ),
        ]
    if "pool" in res:
        pool_rate = res["pool"]["pool_pps"]
        share = rate / pool_rate
        lines += [
            "",
            f"Against figure 2 measured in this run on {res['pool']['pages']} pages of the same "
            f"site: pool {pool_rate:.1f} pages/s, so ingest runs at {100 * share:.0f}% of it "
            f"({verdict(share, 0.7)}, target ≥ 70%).",
        ]
    if "direct" in res:
        d = res["direct"]
        lines += [
            "",
            f"The same stages without Prefect: {d['wall']:.1f} s for {d['counts']['indexed']} "
            f"articles ({d['counts']['indexed'] / d['wall']:.1f}/s); flow / direct = "
            f"{first['wall'] / d['wall']:.2f}.",
        ]
    share5 = repoll["wall"] / first["wall"]
    lines += [
        "",
        "Figure 5 — re-poll of the unchanged site into the same index:",
        "",
        table(
            ["", "value"],
            [
                ["wall time (s)", repoll["wall"]],
                [
                    "share of the first run",
                    f"{100 * share5:.1f}% ({verdict(share5, 0.05, above=False)}, target < 5%)",
                ],
                [
                    "article pages fetched",
                    f"{repoll['pages_served']} "
                    f"({'**met**' if repoll['pages_served'] == 0 else '**missed**'}, target 0)",
                ],
                ["counts", json.dumps(repoll["counts"])],
                *[[f"  {k}", v] for k, v in repoll["stages"].items()],
            ],
        ),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    argv = list(argv) if argv is not None else sys.argv[1:]
    if argv[:1] == ["--child"]:
        print(json.dumps(child(json.loads(argv[1]))))
        return {}
    parser = argparse.ArgumentParser(prog="python -m bench.end_to_end", description=__doc__)
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--direct", action="store_true", help="also run without Prefect")
    parser.add_argument("--pool-pages", type=int, default=200)
    parser.add_argument("--results", default=None)
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="run the first ingest under py-spy (`uv run --with py-spy`) and write its "
        "collapsed stacks here; the report then charges the GIL's time to stages and Prefect",
    )
    parser.add_argument(
        "--profile-wall",
        action="store_true",
        help="with --profile: sample every thread, idle ones too (the file is for reading; "
        "the report then has no GIL table)",
    )
    args = parser.parse_args(argv)
    spec = SiteSpec(articles=args.articles, feeds=args.feeds, seed=args.seed)
    machine = Machine()
    spy_argv = PY_SPY_WALL if args.profile_wall else PY_SPY
    res = measure(
        spec,
        direct=args.direct,
        pool_pages=args.pool_pages,
        profile=args.profile,
        spy_argv=spy_argv,
    )
    machine.stop()
    if args.profile is not None and not args.profile_wall:
        res["profile"] = str(args.profile)
    report = _report(res, machine, command("bench.end_to_end", argv))
    print(report)
    if not args.no_record:
        append(
            f"Figures 4–5: end to end and re-poll ({spec.articles} pages)",
            report,
            Path(args.results) if args.results else None,
        )
        OUT.mkdir(exist_ok=True)
        (OUT / f"end_to_end-{spec.articles}.json").write_text(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
