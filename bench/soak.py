"""Soak: continuous ingestion from a growing synthetic site for an hour, with faults injected
at random and searches running alongside; then the exactly-once check.

* The site (`bench/site.py`) publishes its pages over the run (its feeds grow), a second
  loopback server adds a desk of slow article pages (some stall past the fetch deadline) and
  hostile feeds (gzip bomb, garbage, redirect loop, entity expansion, a stall), a random
  subset of which each ingest run polls.
* A child process runs the Prefect flow `ingest` again and again (a real Prefect server);
  Elasticsearch sits behind a fault proxy and is, at random times, SIGKILLed and restarted on
  the same data directory, or made 15 s slow for a while.
* A thread searches (facets and highlights, `newsdesk.search.run_search`) every second.
* Every 10 s the ingest process's RSS (and its extraction workers') is sampled.

At the end the faults stop, every page is published, catch-up runs drain the backlog, and the
index is checked: each published article is in it exactly once, no URL twice, the 404s are
dead letters with their reason, nothing is left pending.

    uv run python -m bench.soak --minutes 60 --articles 6000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.results import Machine, append, command, median, say, table
from bench.services import bench_settings, prefect_api
from bench.site import Site, SiteSpec, serve
from newsdesk import es_node
from newsdesk.settings import Settings
from newsdesk.urls import article_id, normalize_url
from tests.faultproxy import FaultProxy, fault_proxy
from tests.newswire import FERRY, LIBRARY, WIRE, Story, article_page, feed_route, rss
from tests.servers import Handler, TestServer, gzip_bomb, redirect, respond, stall

SLOW_PAGES = 40
HOSTILE = {
    "hostile-bomb": "/hostile/bomb.xml",
    "hostile-garbage": "/hostile/garbage.xml",
    "hostile-loop": "/hostile/loop.xml",
    "hostile-laughs": "/hostile/laughs.xml",
    "hostile-stall": "/hostile/stall.xml",
}
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b']><rss version="2.0"><channel><title>&lol9;</title></channel></rss>'
)
QUERIES = ("council", "ministry", "harbour", "budget", "police", "rail", "school", "energy")


# --- the child: ingest runs, one after another -----------------------------------------------


def child(config: dict[str, Any]) -> None:
    from flows.ingest import ingest
    from newsdesk.sources import SourceConfig

    settings = Settings.model_validate(config["settings"])
    rng = random.Random(config["seed"])
    stop = Path(config["stop_file"])
    steady = [SourceConfig.model_validate(s) for s in config["sources"]]
    hostile = [SourceConfig.model_validate(s) for s in config["hostile"]]
    quiet_runs = 0
    while not stop.exists():
        picked = [s for s in hostile if rng.random() < 0.5]
        started = time.time()
        row: dict[str, Any] = {"t": started, "hostile": [s.name for s in picked]}
        try:
            summary = ingest(sources=[*steady, *picked], settings=settings)
        except Exception as exc:
            row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        else:
            row.update(summary.model_dump(exclude={"outcomes", "feeds_polled"}))
            row.update(
                reasons=dict(
                    Counter(
                        (o.reason or "?").split(":")[0][:60]
                        for o in summary.outcomes
                        if o.status.value != "indexed"
                    )
                ),
            )
        row["seconds"] = time.time() - started
        print(json.dumps(row), flush=True)
        if config["drain"]:
            # catch-up: stop after two runs in a row with nothing left to do
            idle = "error" not in row and row.get("indexed", 0) == 0 and row.get("failed", 0) == 0
            quiet_runs = quiet_runs + 1 if idle else 0
            if quiet_runs >= 2:
                return
        time.sleep(config["pause"])


# --- the parent: site, faults, searches, samples ---------------------------------------------


@dataclass
class Log:
    runs: list[dict[str, Any]] = field(default_factory=list)
    samples: list[tuple[float, float, float]] = field(default_factory=list)
    faults: list[tuple[float, str, float]] = field(default_factory=list)
    searches: Counter[str] = field(default_factory=Counter)
    search_ms: list[float] = field(default_factory=list)


class Node:
    """The Elasticsearch node under test: killed and restarted on its data directory."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.proxy: FaultProxy | None = None
        self._ctx: Any = None
        self.info: es_node.NodeInfo | None = None

    def start(self) -> es_node.NodeInfo:
        self._ctx = es_node.ephemeral_node(self.base, settings=Settings(), heap="1g")
        self.info = self._ctx.__enter__()
        if self.proxy is not None:
            self.proxy.port = self.info.port
        return self.info

    def kill(self) -> None:
        assert self.info is not None
        os.killpg(self.info.pid, signal.SIGKILL)
        self._ctx.__exit__(None, None, None)
        self._ctx = None

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.__exit__(None, None, None)


def _slow_desk(server: TestServer, rng: random.Random, slow: threading.Event) -> list[str]:
    """Article pages that take 1–8 s, or stall past the fetch deadline while `slow` is set."""
    links = []
    for n in range(SLOW_PAGES):
        base = (WIRE, FERRY, LIBRARY)[n % 3]
        story = Story(
            f"{base.title} (slow desk {n})", base.author, (f"Slow {n}.", *base.paragraphs)
        )
        body = article_page(story)
        delay = rng.uniform(1, 8)

        def route(h: Handler, body: bytes = body, delay: float = delay) -> None:
            time.sleep(40 if slow.is_set() else delay)
            respond(200, body)(h)

        server.route(f"/slow/{n}.html", route)
        links.append(server.url(f"/slow/{n}.html"))
    server.route("/slow/feed.xml", feed_route(rss([(f"slow {i}", u) for i, u in enumerate(links)])))
    return links


def _hostile(server: TestServer) -> None:
    server.route(HOSTILE["hostile-bomb"], gzip_bomb(256))
    server.route(HOSTILE["hostile-garbage"], respond(200, b"\x00\x01\x02 <rss <<< not a feed"))
    server.route(HOSTILE["hostile-loop"], redirect(HOSTILE["hostile-loop"]))
    server.route(HOSTILE["hostile-laughs"], respond(200, LAUGHS, content_type="application/xml"))
    server.route(HOSTILE["hostile-stall"], stall(60))


def _rss_mb(pid: int) -> tuple[float, float]:
    """(RSS of `pid`, RSS of its children) in MB, from /proc."""

    def rss(p: int) -> float:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    kids = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                kids += rss(int(entry.name))
    return rss(pid), kids


def _searcher(settings: Settings, log: Log, done: threading.Event) -> None:
    from newsdesk.es_client import connect
    from newsdesk.search import SearchRequest, run_search

    client = connect(settings)
    rng = random.Random(3)
    try:
        while not done.wait(1.0):
            req = SearchRequest(query=rng.choice(QUERIES), facets=True)
            start = time.perf_counter()
            try:
                run_search(client, settings, req)
            except Exception as exc:
                log.searches[type(exc).__name__] += 1
            else:
                log.searches["ok"] += 1
                log.search_ms.append((time.perf_counter() - start) * 1000)
    finally:
        client.close()


def _run_child(config: dict[str, Any], log: Log, sample: bool, t0: float) -> int:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.soak", "--child", json.dumps(config)],
        stdout=subprocess.PIPE,
        text=True,
    )
    done = threading.Event()

    def sampler() -> None:
        while not done.wait(10):
            own, kids = _rss_mb(proc.pid)
            if own:
                log.samples.append((time.time() - t0, own, kids))

    if sample:
        threading.Thread(target=sampler, daemon=True).start()
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("{"):
            row = json.loads(line)
            row["t"] -= t0
            log.runs.append(row)
            say(
                f"[{row['t'] / 60:5.1f} min] run: "
                + (row.get("error") or f"indexed {row['indexed']} failed {row['failed']}")
            )
    done.set()
    proc.stdout.close()
    return proc.wait()


def _exactly_once(settings: Settings, site: Site, released: int, slow: list[str]) -> dict[str, Any]:
    from elasticsearch import helpers

    from newsdesk.deadletter import list_letters
    from newsdesk.es_client import connect

    client = connect(settings)
    try:
        client.indices.refresh(index=settings.index_alias)
        docs = [
            (hit["_id"], hit["_source"].get("url"))
            for hit in helpers.scan(
                client,
                index=settings.index_alias,
                query={"query": {"match_all": {}}, "_source": ["url"]},
            )
        ]
        letters = {
            letter.id: letter
            for letter in list_letters(
                client, settings, states=("pending", "retry", "dead"), limit=10_000
            )
        }
    finally:
        client.close()
    ids = Counter(i for i, _ in docs)
    urls = Counter(u for _, u in docs)
    expected: set[str] = set()
    kinds: Counter[str] = Counter()
    lost: list[str] = []
    for i in range(released):
        meta = site.meta(i)
        kinds[meta.kind] += 1
        own = article_id(normalize_url(site.url(i)))
        if meta.kind in ("article", "update"):
            expected.add(own)
        elif meta.kind == "syndicated":
            expected.add(article_id(normalize_url(site.url(meta.origin))))
            if own in ids:
                lost.append(f"syndicated copy indexed under its own id: {site.url(i)}")
        elif meta.kind == "broken":
            letter = letters.get(own)
            if letter is None or letter.state != "dead" or not letter.reason:
                lost.append(f"404 not dead-lettered with a reason: {site.url(i)}")
    expected |= {article_id(normalize_url(u)) for u in slow}
    present = set(ids)
    missing = expected - present
    galleries = {
        article_id(normalize_url(site.url(i)))
        for i in range(released)
        if site.meta(i).kind == "gallery"
    }
    unexpected = present - expected - galleries
    lost += [f"missing from the index: {i}" for i in sorted(missing)[:20]]
    return {
        "documents": len(docs),
        "expected": len(expected),
        "missing": len(missing),
        "unexpected": len(unexpected),
        "galleries_indexed": len(present & galleries),
        "duplicate_urls": sum(1 for n in urls.values() if n > 1),
        "dead_letters": sum(1 for letter in letters.values() if letter.state == "dead"),
        "left_pending": sum(1 for letter in letters.values() if letter.state != "dead"),
        "kinds": dict(kinds),
        "problems": lost,
    }


def _faults(
    node: Node,
    proxy: FaultProxy,
    slow: threading.Event,
    log: Log,
    t0: float,
    until: float,
    rng: random.Random,
    scale: float,
) -> None:
    """Random faults until `until` (monotonic): ES killed and restarted, ES slow, slow source.
    At `scale` 1 (an hour) the first comes after 2–5 min, then one every 5–10 min."""
    next_at = time.monotonic() + rng.uniform(120, 300) * scale
    while next_at < until:
        time.sleep(max(0.0, next_at - time.monotonic()))
        kind = rng.choices(["es-kill", "es-slow", "slow-source"], weights=[3, 1, 2])[0]
        started = time.monotonic()
        say(f"[{(time.time() - t0) / 60:5.1f} min] fault: {kind}")
        if kind == "es-kill":
            node.kill()
            for attempt in range(3):
                try:
                    node.start()
                    break
                except Exception as exc:
                    say(f"restart {attempt + 1} failed: {exc}")
        elif kind == "es-slow":
            proxy.delay(15)
            time.sleep(max(20.0, 60 * scale))
            proxy.clear()
        else:
            slow.set()
            time.sleep(max(45.0, 120 * scale))
            slow.clear()
        log.faults.append((time.time() - t0, kind, time.monotonic() - started))
        next_at = time.monotonic() + rng.uniform(300, 600) * scale


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    spec = SiteSpec(articles=args.articles, feeds=args.feeds, seed=args.seed)
    log = Log()
    slow = threading.Event()
    base = Path(tempfile.mkdtemp(prefix="newsdesk-soak-"))
    base.chmod(0o755)
    data = base / "data"
    with ExitStack() as stack:
        node = Node(base)
        stack.callback(node.close)
        info = node.start()
        proxy = stack.enter_context(fault_proxy(info.url))
        node.proxy = proxy
        api = stack.enter_context(prefect_api())
        os.environ["PREFECT_API_URL"] = api
        served = stack.enter_context(serve(spec))
        served.release(0)
        extra = stack.enter_context(TestServer())
        slow_links = _slow_desk(extra, rng, slow)
        _hostile(extra)
        settings = bench_settings(
            proxy.url, data_dir=data, es_request_timeout=10.0, request_deadline=20.0
        )
        sources = [
            {"name": f"desk-{k:03d}", "url": url} for k, url in enumerate(served.feed_urls())
        ]
        sources.append({"name": "slow-desk", "url": extra.url("/slow/feed.xml")})
        config = {
            "settings": json.loads(settings.model_dump_json()),
            "sources": sources,
            "hostile": [{"name": n, "url": extra.url(p)} for n, p in HOSTILE.items()],
            "seed": args.seed,
            "stop_file": str(base / "stop"),
            "pause": args.pause,
            "drain": False,
        }
        t0 = time.time()
        until = time.monotonic() + args.minutes * 60
        publish_by = args.minutes * 60 * 0.85
        done = threading.Event()
        threads = [
            threading.Thread(target=_searcher, args=(settings, log, done), daemon=True),
            threading.Thread(
                target=_faults,
                args=(node, proxy, slow, log, t0, until - 4 * args.minutes, rng, args.minutes / 60),
                daemon=True,
            ),
        ]

        def publisher() -> None:
            while not done.wait(5):
                share = min(1.0, (time.time() - t0) / publish_by)
                served.release(int(args.articles * share))

        threads.append(threading.Thread(target=publisher, daemon=True))
        for t in threads:
            t.start()
        ingest_thread = threading.Thread(
            target=_run_child, args=(config, log, True, t0), daemon=True
        )
        ingest_thread.start()
        time.sleep(max(0.0, until - time.monotonic()))
        (base / "stop").touch()
        say("stopping: waiting for the current run to finish")
        ingest_thread.join()
        threads[1].join()
        done.set()
        proxy.clear()
        slow.clear()
        served.release(args.articles)
        soak_runs = len(log.runs)
        say("draining: catch-up runs without faults until two in a row find nothing to do")
        drain = {**config, "drain": True, "hostile": [], "stop_file": str(base / "never")}
        _run_child(drain, log, False, t0)
        check = _exactly_once(settings, served.site, args.articles, slow_links)
    shutil.rmtree(base, ignore_errors=True)
    return {"log": log, "check": check, "soak_runs": soak_runs, "spec": spec}


def _report(res: dict[str, Any], machine: Machine, cmd: str, minutes: float) -> str:
    log: Log = res["log"]
    check = res["check"]
    soak = log.runs[: res["soak_runs"]]
    errors = Counter(r["error"].split(":")[0] for r in soak if "error" in r)
    reasons: Counter[str] = Counter()
    for r in soak:
        reasons.update(r.get("reasons", {}))
    indexed = sum(r.get("indexed", 0) for r in log.runs)
    windows: list[list[object]] = []
    span = 10 * 60
    for start in range(0, int(minutes * 60) + 1, span):
        own = [s[1] for s in log.samples if start <= s[0] < start + span]
        kids = [s[2] for s in log.samples if start <= s[0] < start + span]
        if own:
            windows.append(
                [f"{start // 60}–{(start + span) // 60} min", median(own), max(own), max(kids)]
            )
    first = max(s[1] for s in log.samples[: max(1, len(log.samples) // 6)]) if log.samples else 0
    last = max(s[1] for s in log.samples[-max(1, len(log.samples) // 6) :]) if log.samples else 0
    ms = sorted(log.search_ms)
    p95 = ms[int(len(ms) * 0.95)] if ms else float("nan")
    ok = not check["problems"] and check["duplicate_urls"] == 0 and check["left_pending"] == 0
    return "\n".join(
        [
            machine.line(),
            "",
            f"Command: `{cmd}`",
            "",
            f"{minutes:g} minutes of ingest runs back to back ({len(soak)} runs, then "
            f"{len(log.runs) - len(soak)} catch-up runs without faults); site "
            f"{res['spec'].articles} pages across {res['spec'].feeds} feeds published "
            f"over the first 85% of the run, plus {SLOW_PAGES} slow pages and 5 hostile feeds.",
            "",
            table(
                ["", "value"],
                [
                    ["articles indexed (all runs)", indexed],
                    ["runs that failed (by error)", dict(errors) or "none"],
                    ["items not indexed (by reason, summed over runs)", dict(reasons) or "none"],
                    ["faults injected", dict(Counter(f[1] for f in log.faults))],
                    [
                        "ES restarts: seconds until up again",
                        [round(f[2]) for f in log.faults if f[1] == "es-kill"],
                    ],
                    ["searches (by result)", dict(log.searches)],
                    ["search latency p50 / p95 (ms)", f"{median(ms):.0f} / {p95:.0f}"],
                    [
                        "ingest RSS, first vs last sixth of the run (max MB)",
                        f"{first:.0f} / {last:.0f}",
                    ],
                ],
            ),
            "",
            "Memory of the ingest process over time (RSS sampled every 10 s, MB):",
            "",
            table(["window", "median", "max", "max of its extraction workers"], windows),
            "",
            "Exactly-once check after the catch-up runs:",
            "",
            table(
                ["", "value"],
                [[k, v] for k, v in check.items() if k != "problems"]
                + [["problems", check["problems"][:10] or "none"]],
            ),
            "",
            f"Verdict: {'**exactly once**' if ok else '**FAILED**'} — every published article "
            "indexed once, no URL twice, 404s dead-lettered with their reason, nothing pending.",
        ]
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    argv = list(argv) if argv is not None else sys.argv[1:]
    if argv[:1] == ["--child"]:
        try:
            child(json.loads(argv[1]))
        except Exception:
            traceback.print_exc()
            raise
        return {}
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--articles", type=int, default=6000)
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--pause", type=float, default=10.0, help="seconds between runs")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--results", default=None)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    machine = Machine()
    res = run(args)
    machine.stop()
    report = _report(res, machine, command("bench.soak", argv), args.minutes)
    print(report)
    if not args.no_record:
        append("Soak (issue 8)", report, Path(args.results) if args.results else None)
    return res


if __name__ == "__main__":
    main()
