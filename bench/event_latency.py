"""Event → searchable latency of the event-triggered ingestion.

A `newsdesk.feed.polled` event naming one new article is emitted; the served `ingest-entries`
deployment (triggered by it) fetches, extracts and indexes the article; the clock stops when a
search for the article's id finds it. Each trial uses a fresh article on a local site.

Also reported per trial, from the flow run's state history: event → run created (the server's
trigger), created → running (the runner's poll plus the flow-run process start), running →
completed (the work, including the refresh).

    uv run python bench/event_latency.py --trials 15 [--poll-seconds 1] [--json out.json]

`PREFECT_API_URL` / `NEWSDESK_ES_URL`, when set, name running services; otherwise a Prefect
server and an Elasticsearch node are started for the run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsdesk import es_node, prefect_server  # noqa: E402
from newsdesk.settings import Settings  # noqa: E402
from newsdesk.urls import article_id  # noqa: E402

WORDS = [
    "council",
    "harbour",
    "ministry",
    "budget",
    "rail",
    "coast",
    "festival",
    "survey",
    "volunteers",
    "schools",
    "farmers",
    "bridge",
    "museum",
    "energy",
    "drought",
    "market",
    "election",
    "hospital",
    "river",
    "mayor",
    "ferry",
    "library",
]


def article_html(n: int, token: str) -> bytes:
    title = f"Harbour town report {n}: {token}"
    paras = []
    for p in range(6):
        words = [WORDS[(n * 7 + p * 3 + i) % len(WORDS)] for i in range(60)]
        paras.append(f"<p>{' '.join(words).capitalize()} ({token}-{p}).</p>")
    ld = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": title,
            "datePublished": datetime.now(UTC).isoformat(),
            "author": {"@type": "Person", "name": "Bench Reporter"},
        }
    )
    return (
        f"<!doctype html><html lang='en'><head><title>{title}</title>"
        f"<script type='application/ld+json'>{ld}</script></head><body><article>"
        f"<h1>{title}</h1><p class='byline'>By Bench Reporter</p>{''.join(paras)}"
        "</article></body></html>"
    ).encode()


class _Site(BaseHTTPRequestHandler):
    pages: dict[str, bytes] = {}  # noqa: RUF012

    def do_GET(self) -> None:
        body = self.pages.get(self.path)
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        ctype = "application/rss+xml" if self.path.endswith(".xml") else "text/html; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    server.daemon_threads = True
    _Site.pages["/feed.xml"] = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>b</title></channel></rss>'
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def services() -> Iterator[tuple[str, str]]:
    with contextlib.ExitStack() as stack:
        api = os.environ.get("PREFECT_API_URL")
        if not api:
            home = Path(tempfile.mkdtemp(prefix="newsdesk-bench-prefect-"))
            stack.callback(shutil.rmtree, home, ignore_errors=True)
            api = stack.enter_context(prefect_server.running(home))
        es = os.environ.get("NEWSDESK_ES_URL")
        if not es:
            base = Path(tempfile.mkdtemp(prefix="newsdesk-bench-es-"))
            base.chmod(0o755)
            stack.callback(shutil.rmtree, base, ignore_errors=True)
            es = stack.enter_context(es_node.ephemeral_node(base, settings=Settings())).url
        yield api, es


def wait_for(check: Any, timeout: float, what: str, interval: float = 0.05) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(interval)
    raise TimeoutError(f"{what} not seen after {timeout:.0f} s")


def cpu_seconds(pid: int) -> float:
    """CPU time of `pid` and of its reaped children (the runner's flow-run processes)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def wait_for_value(get: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = get()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError("flow run did not complete")


def completed_states(api: str, link: str) -> dict[str, float]:
    states = run_states(api, link)
    return states if "completed" in states else {}


def run_states(api: str, link: str) -> dict[str, float]:
    """Timestamps (epoch seconds) of the ingest-entries run that got `link`."""
    runs = httpx.post(
        f"{api}/flow_runs/filter",
        json={"flow_runs": {"name": {}}, "sort": "EXPECTED_START_TIME_DESC", "limit": 50},
        timeout=10,
    ).json()
    for run in runs:
        entries = run.get("parameters", {}).get("entries") or []
        if any(e.get("link") == link for e in entries):
            states = httpx.get(
                f"{api}/flow_run_states/", params={"flow_run_id": run["id"]}, timeout=10
            ).json()
            out = {"created": datetime.fromisoformat(run["created"]).timestamp()}
            for s in states:
                out.setdefault(
                    s["type"].lower(), datetime.fromisoformat(s["timestamp"]).timestamp()
                )
            return out
    return {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=15)
    parser.add_argument("--gap", type=float, default=2.0, help="Seconds between trials.")
    parser.add_argument("--poll-seconds", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    with services() as (api, es_url), site() as base, tempfile.TemporaryDirectory() as tmp:
        alias = f"bench-{uuid.uuid4().hex[:8]}"
        feeds = Path(tmp) / "feeds.yaml"
        feeds.write_text(
            "allow_hosts: ['127.0.0.1']\n"
            "groups:\n  bench: {interval_minutes: 1440, paused: true}\n"
            f"sources:\n  - {{name: bench-site, url: '{base}/feed.xml', group: bench}}\n"
        )
        env = dict(os.environ)
        env.update(
            PREFECT_API_URL=api,
            NEWSDESK_ES_URL=es_url,
            NEWSDESK_INDEX_ALIAS=alias,
            NEWSDESK_DATA_DIR=str(Path(tmp) / "data"),
            PREFECT_LOGGING_LEVEL="WARNING",
        )
        suffix = f"-{alias}"
        serve_log = Path(tmp) / "serve.log"
        with serve_log.open("wb") as log:
            serve = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "newsdesk.cli",
                    "serve",
                    "--feeds",
                    str(feeds),
                    "--suffix",
                    suffix,
                    "--poll-seconds",
                    str(args.poll_seconds),
                    "--no-automations",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=ROOT,
            )
        os.environ.update(PREFECT_API_URL=api, NEWSDESK_ES_URL=es_url, NEWSDESK_INDEX_ALIAS=alias)
        try:
            from flows.events import emit_feed_polled
            from newsdesk.es_client import connect
            from newsdesk.models import FeedEntry

            settings = Settings(es_url=es_url, index_alias=alias)

            def registered() -> bool:
                resp = httpx.get(
                    f"{api}/deployments/name/ingest-entries/on-event{suffix}", timeout=5
                )
                return resp.status_code == 200

            wait_for(registered, 240, "serve start", 0.5)
            time.sleep(2)  # the runner's first poll
            client = connect(settings)
            results = []
            cpu_before = cpu_seconds(serve.pid)
            for n in range(args.trials + 1):  # trial 0 warms up (index creation, caches)
                token = uuid.uuid4().hex[:10]
                path = f"/news/{token}.html"
                _Site.pages[path] = article_html(n, token)
                link = base + path
                doc_id = article_id(link)
                t0 = time.time()
                emit_feed_polled(
                    settings,
                    "bench-site",
                    feed_url=f"{base}/feed.xml",
                    new_entries=[FeedEntry(link=link, source="bench-site", title=token)],
                    entries_seen=1,
                )

                calls = [0]

                def found(doc_id: str = doc_id, link: str = link, calls: list[int] = calls) -> bool:
                    try:
                        r = client.search(index=alias, query={"ids": {"values": [doc_id]}}, size=0)
                    except Exception:
                        r = None
                    if r is not None and r["hits"]["total"]["value"]:
                        return True
                    calls[0] += 1
                    if calls[0] % 40 == 0:
                        done = run_states(api, link).get("completed")
                        if done and time.time() - done > 5:
                            raise RuntimeError(f"run for {link} completed but indexed nothing")
                    return False

                wait_for(found, args.timeout, f"article {n}", interval=0.05)
                elapsed = time.time() - t0
                states = wait_for_value(lambda link=link: completed_states(api, link), 60)
                time.sleep(0.5)  # the runner reaps the flow-run process after its last report
                cpu = cpu_seconds(serve.pid)
                row = {
                    "trial": n,
                    "event_to_searchable": round(elapsed, 3),
                    "event_to_run_created": round(states.get("created", t0) - t0, 3),
                    "created_to_running": round(
                        states.get("running", 0) - states.get("created", 0), 3
                    ),
                    "running_to_completed": round(
                        states.get("completed", 0) - states.get("running", 0), 3
                    ),
                    "flow_run_cpu_s": round(cpu - cpu_before, 2),
                    "load_avg_1m": round(os.getloadavg()[0], 2),
                }
                cpu_before = cpu
                results.append(row)
                print(json.dumps(row), flush=True)
                time.sleep(args.gap)
            client.close()
        finally:
            serve.terminate()
            try:
                serve.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(serve.pid, 9)
                serve.wait()

    measured = results[1:]
    values = [r["event_to_searchable"] for r in measured]
    summary = {
        "trials": len(values),
        "median_s": round(statistics.median(values), 3),
        "p90_s": round(sorted(values)[max(0, int(len(values) * 0.9) - 1)], 3),
        "min_s": round(min(values), 3),
        "max_s": round(max(values), 3),
        "median_event_to_run_created_s": round(
            statistics.median(r["event_to_run_created"] for r in measured), 3
        ),
        "median_created_to_running_s": round(
            statistics.median(r["created_to_running"] for r in measured), 3
        ),
        "median_running_to_completed_s": round(
            statistics.median(r["running_to_completed"] for r in measured), 3
        ),
        "median_load_avg_1m": round(statistics.median(r["load_avg_1m"] for r in measured), 2),
        # CPU is booked when the runner reaps a run's process, sometimes in the next trial, so
        # only the mean over all trials is meaningful.
        "mean_flow_run_cpu_s": round(sum(r["flow_run_cpu_s"] for r in measured) / len(measured), 2),
        "poll_seconds": args.poll_seconds,
        "nproc": os.cpu_count(),
        "date": datetime.now(UTC).isoformat(timespec="minutes"),
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "trials": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
