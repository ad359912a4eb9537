"""Figures 1 and 2: extraction speed on one core against plain trafilatura, and over all cores.

Figure 1 runs `trafilatura.extract(html)` and our `extract_article(html, url)` (every field) on
the same pages, alternating which goes first in each round, and reports the median over rounds
of pages/second (wall and CPU) and of the ratio. Figure 2 does the same for one core in this
process against an `ExtractionPool` of all cores. Pages are read once, before timing: the
extraction-dev corpus (gunzipped at run time, never copied) and pages of the synthetic site.

    uv run python -m bench.extraction                      # both figures, both page sets
    uv run python -m bench.extraction --limit 100 --site-pages 100 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.results import OUT, Machine, append, command, median, say, spin, table, verdict
from bench.site import Site, SiteSpec
from newsdesk.evaluation import load_corpus, page_address, read_page
from newsdesk.parallel import ExtractionPool, PageJob, default_workers, extract_one

DEV_CORPUS = Path(__file__).resolve().parent.parent.parent / "shared/corpora/extraction-dev"
Pages = list[tuple[bytes, str]]


def dev_pages(path: Path, limit: int | None) -> Pages:
    corpus = load_corpus(path, "extraction-dev", limit)
    return [(read_page(p.file), page_address(p)) for p in corpus.pages]


def site_pages(count: int, seed: int = 7) -> Pages:
    """The first `count` article pages (not galleries or 404s) of a synthetic site."""
    site = Site(SiteSpec(articles=max(count * 2, 50), seed=seed))
    pages: Pages = []
    for i in range(site.spec.articles):
        if site.meta(i).kind in ("article", "update", "syndicated"):
            pages.append((site.page(i), site.url(i)))
        if len(pages) == count:
            break
    return pages


def _ours(pages: Pages) -> int:
    return sum(not isinstance(extract_one(PageJob(html, url)), Exception) for html, url in pages)


def _trafilatura(pages: Pages) -> int:
    import trafilatura

    return sum(trafilatura.extract(html) is not None for html, _ in pages)


def _timed(fn: Callable[[], int]) -> tuple[float, float, int]:
    cpu, wall = time.process_time(), time.perf_counter()
    produced = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, produced


def _warm(pages: Pages) -> None:
    """Load lazy resources of both sides before anything is timed."""
    _ours(pages[:2])
    _trafilatura(pages[:2])


def _chunks(pages: Pages, rounds: int) -> list[Pages]:
    """One disjoint slice of the pages per round, so no round re-reads a page: our extractor
    memoises (tokens, names), and pages seen before would flatter it, unlike new pages in
    production. With too few pages every round gets them all."""
    if len(pages) < 2 * rounds:
        return [pages] * rounds
    size = len(pages) // rounds
    return [pages[r * size : (r + 1) * size] for r in range(rounds)]


def one_core(pages: Pages, rounds: int) -> dict[str, Any]:
    """Figure 1 on `pages`: trafilatura and ours side by side on each round's own pages."""
    _warm(pages)
    ours, traf, ratio, ours_cpu, traf_cpu = [], [], [], [], []
    produced = {"ours": 0, "trafilatura": 0}
    for r, chunk in enumerate(_chunks(pages, rounds)):
        n = len(chunk)
        order = ("ours", "trafilatura") if r % 2 == 0 else ("trafilatura", "ours")
        got: dict[str, tuple[float, float, int]] = {}
        for name in order:
            run = _ours if name == "ours" else _trafilatura
            got[name] = _timed(lambda run=run, chunk=chunk: run(chunk))
        ours.append(n / got["ours"][0])
        traf.append(n / got["trafilatura"][0])
        ours_cpu.append(n / got["ours"][1])
        traf_cpu.append(n / got["trafilatura"][1])
        ratio.append(got["trafilatura"][0] / got["ours"][0])
        produced["ours"] += got["ours"][2]
        produced["trafilatura"] += got["trafilatura"][2]
    return {
        "pages": len(pages),
        "rounds": rounds,
        "ours_pps": median(ours),
        "trafilatura_pps": median(traf),
        "ours_cpu_pps": median(ours_cpu),
        "trafilatura_cpu_pps": median(traf_cpu),
        "ratio": median(ratio),
        "ratio_cpu": median(ours_cpu) / median(traf_cpu),
        "ratios": ratio,
        "produced": produced,
    }


def all_cores(pages: Pages, rounds: int, workers: int) -> dict[str, Any]:
    """Figure 2 on `pages`: a pool of one worker process (one core) against a pool of
    `workers`, both warmed alike, each round on its own pages, taking turns. Both sides pay
    the same transfer costs and see each page once, so the ratio is the pool's scaling."""
    chunks = _chunks(pages, rounds)
    single, pooled, ratio = [], [], []
    counts = {"one": 0, "pool": 0}
    warm = [PageJob(html, url) for html, url in pages[:8]]
    with ExtractionPool(1) as one, ExtractionPool(workers) as pool:
        for side in (one, pool):
            side.start()
            list(side.extract(warm))
        for r, chunk in enumerate(chunks):
            jobs = [PageJob(html, url) for html, url in chunk]
            got: dict[str, float] = {}
            for name in ("one", "pool") if r % 2 == 0 else ("pool", "one"):
                start = time.perf_counter()
                results = list((one if name == "one" else pool).extract(jobs))
                got[name] = time.perf_counter() - start
                counts[name] += sum(not isinstance(x, Exception) for x in results)
            single.append(len(jobs) / got["one"])
            pooled.append(len(jobs) / got["pool"])
            ratio.append(got["one"] / got["pool"])
        restarts = one.restarts + pool.restarts
    return {
        "pages": len(pages),
        "rounds": rounds,
        "workers": workers,
        "one_core_pps": median(single),
        "pool_pps": median(pooled),
        "ratio": median(ratio),
        "ratios": ratio,
        "articles": counts,
        "restarts": restarts,
    }


def machine_scaling(workers: int, rounds: int = 3, n: int = 3_000_000) -> float:
    """How much faster `workers` processes finish `workers` equal loops than one process
    finishes one: the ceiling figure 2 can reach on this machine at this moment (2.0 on two
    idle physical cores; less on SMT siblings, under CPU steal, or beside other work)."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    ratios = []
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        list(pool.map(spin, [10_000] * workers))
        for _ in range(rounds):
            start = time.perf_counter()
            pool.submit(spin, n).result()
            alone = time.perf_counter() - start
            start = time.perf_counter()
            list(pool.map(spin, [n] * workers))
            together = time.perf_counter() - start
            ratios.append(workers * alone / together)
    return median(ratios)


def profile(pages: Pages, out: Path) -> str | None:
    """A pyinstrument profile of our extractor on `pages` (None when pyinstrument is absent:
    `uv run --with pyinstrument python -m bench.extraction --profile`)."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        return None
    _ours(pages[:2])
    profiler = Profiler(interval=0.002)
    profiler.start()
    _ours(pages)
    profiler.stop()
    text: str = profiler.output_text(unicode=False, color=False, show_all=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, "utf-8")
    return text


def _report(results: dict[str, Any], machine: Machine, cmd: str) -> str:
    rows1, rows2 = [], []
    for name, res in results["sets"].items():
        f1, f2 = res["one_core"], res.get("all_cores")
        rows1.append(
            [
                name,
                f1["pages"],
                f1["rounds"],
                f1["trafilatura_pps"],
                f1["ours_pps"],
                f"{f1['ratio']:.2f}× ({verdict(f1['ratio'], 0.9)})",
                f"{f1['ratio_cpu']:.2f}×",
                f"{f1['produced']['ours']}/{f1['pages']}",
            ]
        )
        if f2:
            rows2.append(
                [
                    name,
                    f2["pages"],
                    f2["workers"],
                    f2["one_core_pps"],
                    f2["pool_pps"],
                    f"{f2['ratio']:.2f}× ({verdict(f2['ratio'], 1.8)})",
                ]
            )
    text = [
        machine.line(),
        "",
        f"Command: `{cmd}`",
        "",
        "Figure 1 — one core, pages/second (median of rounds, each round on pages of its own; "
        "ratio = ours / trafilatura, target ≥ 0.9×; CPU ratio uses process CPU time, which the "
        "machine's load disturbs less):",
        "",
        table(
            [
                "pages",
                "n",
                "rounds",
                "trafilatura.extract",
                "newsdesk extract_article",
                "ratio (wall)",
                "ratio (CPU)",
                "articles out",
            ],
            rows1,
        ),
    ]
    if rows2:
        text += [
            "",
            "Figure 2 — all cores: `ExtractionPool(2)` against `ExtractionPool(1)` (one worker "
            "process, one core), same pages, taking turns (target ≥ 1.8× on 2 cores):",
            "",
            table(["pages", "n", "workers", "one core", "pool", "ratio"], rows2),
            "",
            f"The machine's own scaling at the time, {results['machine_scaling']:.2f}× (a "
            "pure-Python loop in one process, then in each of the workers at once, same "
            "rounds): the ceiling for the ratio above while the machine is shared.",
        ]
    return "\n".join(text)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.extraction", description=__doc__)
    parser.add_argument("--corpus", type=Path, default=DEV_CORPUS)
    parser.add_argument("--limit", type=int, default=None, help="extraction-dev pages")
    parser.add_argument("--site-pages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--skip-pool", action="store_true")
    parser.add_argument("--scaling-loops", type=int, default=3_000_000)
    parser.add_argument("--profile", action="store_true", help="also write a pyinstrument profile")
    parser.add_argument("--results", type=Path, default=None, help="RESULTS.md to append to")
    parser.add_argument("--no-record", action="store_true")
    argv = list(argv) if argv is not None else sys.argv[1:]
    args = parser.parse_args(argv)
    cmd = command("bench.extraction", argv)
    machine = Machine()
    sets: dict[str, Pages] = {}
    if args.corpus.is_dir() and args.limit != 0:
        sets["extraction-dev"] = dev_pages(args.corpus, args.limit)
    if args.site_pages:
        sets["synthetic site"] = site_pages(args.site_pages)
    results: dict[str, Any] = {"sets": {}}
    for name, pages in sets.items():
        say(f"figure 1 on {name} ({len(pages)} pages)")
        entry: dict[str, Any] = {"one_core": one_core(pages, args.rounds)}
        if not args.skip_pool:
            say(f"figure 2 on {name}")
            entry["all_cores"] = all_cores(pages, args.rounds, args.workers)
        results["sets"][name] = entry
        if args.profile:
            results.setdefault("profiles", {})[name] = profile(
                pages, OUT / f"profile-extraction-{name.replace(' ', '-')}.txt"
            )
    if not args.skip_pool:
        say("the machine's own scaling over processes, for comparison")
        results["machine_scaling"] = machine_scaling(
            args.workers, rounds=max(3, args.rounds), n=args.scaling_loops
        )
    machine.stop()
    report = _report(results, machine, cmd)
    print(report)
    if not args.no_record:
        append("Figures 1–2: extraction speed", report, args.results)
        OUT.mkdir(exist_ok=True)
        (OUT / "extraction.json").write_text(json.dumps(results, indent=1, default=str))
    return results


if __name__ == "__main__":
    main()
