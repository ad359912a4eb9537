"""Search latency: `GET /search` (facets, timeline, highlights, duplicate collapsing, a cursor)
against the same search body sent straight to Elasticsearch, on generated articles.

    uv run python -m bench.search_latency --articles 100000

Uses `NEWSDESK_ES_URL` (or `--es-url`) when set, else starts a throw-away local node. The
articles (tests/corpus.py `article_docs`: ten-sentence bodies, bylines, quotes, entities, one
copy in four sharing a cluster id) are indexed once per size and kept for reruns unless
`--fresh`. Requests alternate between the two paths, query by query, over one HTTP client each,
after a warm-up. A section with the command, date, machine and numbers is appended to
bench/RESULTS.md (`--results -` prints it only).

Target: the API adds no more than 20% or 10 ms (whichever is larger) at p50 and p95.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.results import Machine
from newsdesk.es_client import connect
from newsdesk.index import ensure_index
from newsdesk.search import SearchRequest, build_query, raw_size
from newsdesk.settings import Settings
from tests.corpus import article_docs, bulk_load

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
QUERIES = [
    "harbour",
    "flood OR storm",
    '"container terminal"',
    "election -budget",
    'person:"Kenji Sato" minister',
    "vaccine clinic",
    "software privacy",
    "",
]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


@dataclass
class Timing:
    """Both paths measured under one index configuration."""

    label: str
    api_ms: list[float]
    direct_ms: list[float]

    def verdict(self) -> tuple[bool, str]:
        lines, ok = [], True
        for p in (50, 95):
            direct, api = pct(self.direct_ms, p), pct(self.api_ms, p)
            budget = max(0.2 * direct, 10.0)
            within = api - direct <= budget
            ok &= within
            lines.append(
                f"p{p}: API adds {api - direct:.1f} ms (budget {budget:.1f} ms) "
                f"{'OK' if within else 'OVER'}"
            )
        return ok, "; ".join(lines)

    def rows(self) -> list[str]:
        out = []
        for name, values in (
            ("`GET /search` (API)", self.api_ms),
            ("same body to `_search`", self.direct_ms),
        ):
            out.append(
                f"| {self.label} | {name} | {pct(values, 50):.1f} | {pct(values, 95):.1f} "
                f"| {statistics.fmean(values):.1f} |"
            )
        return out


@dataclass
class Report:
    articles: int
    requests: int
    timings: list[Timing]
    es_version: str
    command: str
    machine: str = ""

    def markdown(self) -> str:
        lines = [
            f"## Search latency: `/search` vs Elasticsearch ({datetime.now(UTC):%Y-%m-%d})",
            "",
            f"- Command: `{self.command}`",
            f"- Machine: {os.cpu_count()} CPUs (`nproc`), Elasticsearch {self.es_version}, "
            f"Python {sys.version.split()[0]}; shared with other work: {self.machine}",
            f"- Corpus: {self.articles:,} generated articles; {self.requests} timed requests "
            f"per path and configuration over {len(QUERIES)} queries (7 facets, a daily "
            "histogram, story count, highlights, duplicates collapsed, page of 10)",
            "- API path: `newsdesk api` (uvicorn, own process): hits over a point in time "
            "(first pages share one for up to 1 s), the per-page cluster check, and the "
            "facets as a separate size-0 request in parallel; JSON out. Direct path: the "
            "same search (hits and aggregations in one body) to `_search`. One keep-alive "
            "HTTP client each, requests alternating.",
            "- The facets request has no hits, so Elasticsearch's shard request cache can "
            "answer it until the index changes; the benchmark index never changes, so the "
            "first configuration below turns that cache off (as on an index refreshed by "
            "constant ingestion) and the second leaves it on.",
            "",
            "| index request cache | path | p50 ms | p95 ms | mean ms |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
        for timing in self.timings:
            lines += timing.rows()
        lines.append("")
        for timing in self.timings:
            ok, verdict = timing.verdict()
            lines.append(
                f"- Target with cache {timing.label} (API adds ≤ max(20%, 10 ms)): "
                f"{'met' if ok else 'NOT met'}: {verdict}."
            )
        lines.append("")
        return "\n".join(lines)


@contextmanager
def elasticsearch(es_url: str | None) -> Iterator[str]:
    url = es_url or os.environ.get("NEWSDESK_ES_URL")
    if url:
        yield url
        return
    from newsdesk import es_node

    base = Path(tempfile.mkdtemp(prefix="newsdesk-bench-es-"))
    base.chmod(0o755)
    try:
        with es_node.ephemeral_node(base, settings=Settings(), heap="1g") as info:
            yield info.url
    finally:
        shutil.rmtree(base, ignore_errors=True)


def prepare_index(settings: Settings, articles: int, fresh: bool) -> None:
    client = connect(settings)
    try:
        name = settings.index_name
        if fresh:
            client.options(ignore_status=404).indices.delete(index=name)
        if client.indices.exists(index=name):
            if client.count(index=name)["count"] == articles:
                return
            client.indices.delete(index=name)
        ensure_index(client, settings)
        started = time.perf_counter()
        bulk_load(client, name, article_docs(articles, prefix="bench"))
        client.indices.forcemerge(index=name, max_num_segments=1)
        print(f"indexed {articles:,} articles in {time.perf_counter() - started:.0f} s")
    finally:
        client.close()


def _timed(client: httpx.Client, method: str, url: str, **kwargs: object) -> float:
    started = time.perf_counter()
    resp = client.request(method, url, **kwargs)  # type: ignore[arg-type]
    elapsed = (time.perf_counter() - started) * 1000
    resp.raise_for_status()
    return elapsed


@contextmanager
def api_process(settings: Settings) -> Iterator[str]:
    """`newsdesk api` in its own process, as deployed (an in-process server would share the
    GIL with the measuring client and add its own delays)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "NEWSDESK_ES_URL": str(settings.es_url),
        "NEWSDESK_INDEX_ALIAS": settings.index_alias,
        "NEWSDESK_DATA_DIR": str(settings.data_dir),
    }
    cmd = [sys.executable, "-m", "newsdesk.cli", "api", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"newsdesk api did not start: {err[-500:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def measure(
    es_url: str, settings: Settings, requests: int, warmup: int
) -> tuple[list[float], list[float]]:
    api_ms: list[float] = []
    direct_ms: list[float] = []
    with (
        api_process(settings) as api_url,
        httpx.Client(base_url=api_url, timeout=60) as api,
        httpx.Client(base_url=es_url, timeout=60) as es,
    ):
        for i in range(warmup + requests):
            q = QUERIES[i % len(QUERIES)]
            req = SearchRequest(query=q, facets=True)
            body = build_query(req, size=raw_size(req), aggs=True)
            pair = [
                ("api", lambda q=q: _timed(api, "GET", "/search", params={"q": q})),
                (
                    "direct",
                    lambda body=body: _timed(
                        es, "POST", f"/{settings.index_alias}/_search", json=body
                    ),
                ),
            ]
            if i % 2:
                pair.reverse()
            for name, call in pair:
                ms = call()
                if i >= warmup:
                    (api_ms if name == "api" else direct_ms).append(ms)
    return api_ms, direct_ms


def run(
    *,
    articles: int,
    requests: int,
    warmup: int,
    es_url: str | None = None,
    fresh: bool = False,
    drop: bool = False,
    caches: tuple[str, ...] = ("off", "on"),
    command: str = "",
) -> Report:
    machine = Machine()
    with elasticsearch(es_url) as url:
        settings = Settings(
            es_url=url,
            index_alias=f"bench-search-{articles}",
            data_dir=Path(tempfile.gettempdir()) / "newsdesk-bench",
        )
        prepare_index(settings, articles, fresh)
        client = connect(settings)
        try:
            nodes = client.nodes.info(node_id="_local", filter_path="nodes.*.version")
            version = next(iter(nodes["nodes"].values()))["version"]
        finally:
            client.close()
        timings = []
        client = connect(settings)
        try:
            for label in caches:
                client.indices.put_settings(
                    index=settings.index_name,
                    settings={"index.requests.cache.enable": label == "on"},
                )
                client.indices.clear_cache(index=settings.index_name, request=True)
                api_ms, direct_ms = measure(url, settings, requests, warmup)
                timings.append(Timing(label, api_ms, direct_ms))
        finally:
            if drop:
                client.options(ignore_status=404).indices.delete(index=settings.index_name)
                client.options(ignore_status=404).indices.delete_index_template(
                    name=f"{settings.index_alias}-template"
                )
            client.close()
    return Report(articles, requests, timings, str(version), command, machine.stop().line())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=400, help="timed requests per path")
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--es-url", default=None)
    parser.add_argument("--fresh", action="store_true", help="re-index even if the index exists")
    parser.add_argument("--drop", action="store_true", help="delete the index afterwards")
    parser.add_argument(
        "--cache",
        choices=("both", "off", "on"),
        default="both",
        help="index request cache settings to measure",
    )
    parser.add_argument("--results", default=str(RESULTS), help="file to append to, or -")
    args = parser.parse_args(argv)
    command = "uv run python -m bench.search_latency " + " ".join(argv or sys.argv[1:])
    report = run(
        articles=args.articles,
        requests=args.requests,
        warmup=args.warmup,
        es_url=args.es_url,
        fresh=args.fresh,
        drop=args.drop,
        caches=("off", "on") if args.cache == "both" else (args.cache,),
        command=command.strip(),
    )
    text = report.markdown()
    print(text)
    if args.results != "-":
        path = Path(args.results)
        new_file = not path.exists()
        with path.open("a", encoding="utf-8") as fh:
            fh.write(("# Benchmark results\n" if new_file else "") + "\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
