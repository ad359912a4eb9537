"""Figure 6: news-please and newspaper4k beside newsdesk and trafilatura on extraction-dev.

The peers are installed only for this run, never as project dependencies:

    uv run --with newspaper4k --with news-please python -m bench.peers

Scoring is `newsdesk.evaluation` (the extraction-dev convention: `with`/`without` snippets,
main-text F1 over all snippets); every page is handed to each extractor in turn, so the speeds
are measured side by side. A peer that is not installed is left out and said so.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bench.extraction import DEV_CORPUS
from bench.results import OUT, Machine, append, say, table
from newsdesk.evaluation import EXTRACTORS, Extraction, ExtractorFn, run_evaluation


def _day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return None


def news_please(page: bytes, url: str) -> Extraction:
    from newsplease import NewsPlease

    article = NewsPlease.from_html(page.decode("utf-8", "replace"), url=url, fetch_images=False)
    return Extraction(
        text=unicodedata.normalize("NFC", article.maintext or ""),
        title=article.title,
        authors=list(article.authors or []),
        published=_day(article.date_publish),
    )


def newspaper4k(page: bytes, url: str) -> Extraction:
    import newspaper

    article = newspaper.Article(url, fetch_images=False)
    article.download(input_html=page.decode("utf-8", "replace"))
    article.parse()
    return Extraction(
        text=unicodedata.normalize("NFC", article.text or ""),
        title=article.title,
        authors=list(article.authors or []),
        published=_day(article.publish_date),
    )


PEERS: dict[str, tuple[str, ExtractorFn]] = {
    "news-please": ("newsplease", news_please),
    "newspaper4k": ("newspaper", newspaper4k),
}


def available_peers() -> tuple[dict[str, ExtractorFn], list[str]]:
    import importlib.util

    found: dict[str, ExtractorFn] = {}
    missing: list[str] = []
    for name, (module, fn) in PEERS.items():
        if importlib.util.find_spec(module) is None:
            missing.append(name)
        else:
            found[name] = fn
    return found, missing


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__)
    parser.add_argument("--corpus", type=Path, default=DEV_CORPUS)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--results", default=None)
    parser.add_argument("--no-record", action="store_true")
    argv = list(argv) if argv is not None else sys.argv[1:]
    args = parser.parse_args(argv)
    peers, missing = available_peers()
    if missing:
        say(f"not installed, left out: {', '.join(missing)} (see the module docstring)")
    extractors = {
        "newsdesk": EXTRACTORS["newsdesk"],
        "trafilatura": EXTRACTORS["trafilatura"],
        **peers,
    }
    machine = Machine()
    report = run_evaluation(args.corpus, limit=args.limit, extractors=extractors, n_bootstrap=0)
    machine.stop()
    cmd = (
        "uv run --with newspaper4k --with news-please python -m bench.peers " + shlex.join(argv)
    ).strip()
    rows = []
    figures: dict[str, Any] = {}
    for ex in report.extractors:
        f1 = ex.snippets.f1 if ex.snippets else float("nan")
        pps = ex.pages_per_second or float("nan")
        cpu_pps = 1000 / ex.cpu_ms_per_page if ex.cpu_ms_per_page else float("nan")
        figures[ex.name] = {"f1": f1, "pps": pps, "cpu_pps": cpu_pps, "failures": ex.failures}
        rows.append([ex.name, 100 * f1, pps, cpu_pps, ex.failures + ex.empty])
    ours = figures["newsdesk"]
    others = [v for k, v in figures.items() if k in peers]
    ahead_f1 = all(ours["f1"] > p["f1"] for p in others)
    ahead_speed = all(ours["cpu_pps"] > p["cpu_pps"] for p in others)
    verdict = (
        f"newsdesk ahead of every peer on F1: {'**met**' if ahead_f1 else '**missed**'}; "
        f"on speed (CPU pages/s): {'**met**' if ahead_speed else '**missed**'}"
        if others
        else "no peer installed: run with the peers (see the command)"
    )
    text = "\n".join(
        [
            machine.line(),
            "",
            f"Command: `{cmd}`",
            "",
            f"extraction-dev, {report.pages} pages, each handed to every extractor in turn "
            "(main-text F1 in %, pages/second of wall and of CPU time):",
            "",
            table(["extractor", "main-text F1", "pages/s", "CPU pages/s", "failed or empty"], rows),
            "",
            verdict + (f" (not installed: {', '.join(missing)})" if missing else ""),
        ]
    )
    print(text)
    if not args.no_record:
        append("Figure 6: peers", text, Path(args.results) if args.results else None)
        OUT.mkdir(exist_ok=True)
        (OUT / "peers.json").write_text(json.dumps(figures, indent=1))
    return figures


if __name__ == "__main__":
    main()
