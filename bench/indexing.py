"""Figure 3: our bulk writer against the client's raw `streaming_bulk`, same documents, same ES.

Documents are real extractions of synthetic-site pages, cloned under distinct URLs up to the
wanted count, so sizes and fields are those the pipeline indexes. Each round loads the same
documents with `newsdesk.writer.write_articles` and with a bare `streaming_bulk` (which gets the
same `Article`s and dumps them itself, as any caller must), each into a fresh index of the
articles template, alternating which goes first; medians over rounds. A tuning sweep then loads
once per chunk size, and once with `refresh_interval: -1` and 0 replicas during the load.

    uv run python -m bench.indexing --docs 10000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

from bench.extraction import site_pages
from bench.results import OUT, Machine, append, command, median, say, table, verdict
from bench.services import bench_settings, drop_index, elasticsearch
from newsdesk.es_client import connect
from newsdesk.index import ensure_index
from newsdesk.models import Article, Status
from newsdesk.parallel import PageJob, extract_one
from newsdesk.settings import Settings
from newsdesk.urls import article_id
from newsdesk.writer import write_articles


def documents(count: int, distinct: int = 60) -> list[Article]:
    """`count` articles cloned from `distinct` extracted synthetic pages."""
    pages = site_pages(distinct)
    fields = [extract_one(PageJob(h, u)) for h, u in pages]
    usable = [
        (f, url) for f, (_, url) in zip(fields, pages, strict=True) if not isinstance(f, Exception)
    ]
    if not usable:
        raise RuntimeError("no synthetic page could be extracted")
    docs = []
    for i in range(count):
        f, url = usable[i % len(usable)]
        clone = f"{url}?copy={i}"
        data = f.model_dump()
        data.update(id=article_id(clone), url=clone, source_url=clone, source=f"desk-{i % 50:03d}")
        docs.append(Article.model_validate(data))
    return docs


def _raw_actions(articles: Sequence[Article], alias: str) -> Iterator[dict[str, Any]]:
    for a in articles:
        yield {
            "_index": alias,
            "_id": a.id,
            "_source": a.model_dump(mode="json", exclude_none=True),
        }


def _write(client: Elasticsearch, settings: Settings, docs: Sequence[Article], how: str) -> int:
    """Load `docs` with our writer or with the bare helper; the number acknowledged."""
    if how == "writer":
        return sum(o.status is Status.INDEXED for o in write_articles(client, settings, docs))
    return sum(
        success
        for success, _ in streaming_bulk(
            client,
            _raw_actions(docs, settings.index_alias),
            chunk_size=settings.bulk_chunk_size,
            raise_on_error=False,
        )
    )


def _check(client: Elasticsearch, settings: Settings, ok: int, how: str) -> None:
    client.indices.refresh(index=settings.index_alias)
    count = int(client.count(index=settings.index_alias)["count"])
    if count != ok:
        raise RuntimeError(f"{how}: {ok} items acknowledged but {count} documents counted")


def load(
    client: Elasticsearch, settings: Settings, docs: Sequence[Article], how: str
) -> tuple[float, int]:
    """Seconds to load `docs` into a fresh index, and the number confirmed indexed."""
    ensure_index(client, settings)
    try:
        start = time.perf_counter()
        ok = _write(client, settings, docs, how)
        seconds = time.perf_counter() - start
        _check(client, settings, ok, how)
        return seconds, ok
    finally:
        drop_index(settings)


def side_by_side(
    client: Elasticsearch, es_url: str, docs: Sequence[Article], slice_size: int
) -> dict[str, float]:
    """Writer and raw helper load the same documents into two fresh indices, slice by slice,
    alternating which goes first, so both see the same machine load; total seconds each."""
    targets = {how: bench_settings(es_url) for how in ("writer", "raw")}
    for settings in targets.values():
        ensure_index(client, settings)
    spent = dict.fromkeys(targets, 0.0)
    cpu = dict.fromkeys(targets, 0.0)
    acked = dict.fromkeys(targets, 0)
    try:
        for k, start in enumerate(range(0, len(docs), slice_size)):
            part = docs[start : start + slice_size]
            for how in ("writer", "raw") if k % 2 == 0 else ("raw", "writer"):
                began, began_cpu = time.perf_counter(), time.process_time()
                acked[how] += _write(client, targets[how], part, how)
                spent[how] += time.perf_counter() - began
                cpu[how] += time.process_time() - began_cpu
        for how, settings in targets.items():
            if acked[how] != len(docs):
                raise RuntimeError(f"{how}: only {acked[how]} of {len(docs)} documents indexed")
            _check(client, settings, acked[how], how)
    finally:
        for settings in targets.values():
            drop_index(settings)
    return {**spent, **{f"{how}_cpu": seconds for how, seconds in cpu.items()}}


def load_tuned(
    client: Elasticsearch, settings: Settings, docs: Sequence[Article]
) -> tuple[float, int]:
    """The writer with refresh off and no replicas during the load, restored after."""
    ensure_index(client, settings)
    try:
        start = time.perf_counter()
        client.indices.put_settings(
            index=settings.index_name,
            settings={"index": {"refresh_interval": "-1", "number_of_replicas": 0}},
        )
        ok = sum(o.status is Status.INDEXED for o in write_articles(client, settings, docs))
        client.indices.put_settings(
            index=settings.index_name, settings={"index": {"refresh_interval": "1s"}}
        )
        client.indices.refresh(index=settings.index_alias)
        return time.perf_counter() - start, ok
    finally:
        drop_index(settings)


def run(
    es_url: str, docs: list[Article], rounds: int, chunks: Sequence[int], slice_size: int = 1000
) -> dict[str, Any]:
    base = bench_settings(es_url)
    client = connect(base)
    sizes = [len(json.dumps(d.model_dump(mode="json", exclude_none=True))) for d in docs[:200]]
    mean_doc = sum(sizes) / len(sizes)
    try:
        load(client, bench_settings(es_url), docs[:200], "raw")  # warm the node's JIT and caches
        writer, raw, ratio = [], [], []
        cpu_ratio: list[float] = []
        cpu_ms: list[float] = []
        for r in range(rounds):
            got = side_by_side(client, es_url, docs, slice_size)
            writer.append(len(docs) / got["writer"])
            raw.append(len(docs) / got["raw"])
            ratio.append(got["raw"] / got["writer"])
            cpu_ratio.append(got["raw_cpu"] / got["writer_cpu"])
            cpu_ms.append(1000 * got["writer_cpu"] / len(docs))
            say(f"round {r + 1}: writer {writer[-1]:.0f}/s raw {raw[-1]:.0f}/s")
        sweep = []
        for chunk in chunks:
            settings = bench_settings(es_url, bulk_chunk_size=chunk)
            seconds, _ = load(client, settings, docs, "writer")
            sweep.append(
                {"chunk": chunk, "dps": len(docs) / seconds, "mb_per_bulk": chunk * mean_doc / 1e6}
            )
            say(f"chunk {chunk}: {sweep[-1]['dps']:.0f}/s")
        tuned_s, _ = load_tuned(client, bench_settings(es_url), docs)
        plain_s, _ = load(client, bench_settings(es_url), docs, "writer")
    finally:
        client.close()
    return {
        "docs": len(docs),
        "mean_doc_bytes": mean_doc,
        "rounds": rounds,
        "slice": slice_size,
        "chunk_size": base.bulk_chunk_size,
        "writer_dps": median(writer),
        "raw_dps": median(raw),
        "ratio": median(ratio),
        "ratios": ratio,
        "cpu_ratio": median(cpu_ratio),
        "writer_cpu_ms_per_doc": median(cpu_ms),
        "sweep": sweep,
        "tuned_dps": len(docs) / tuned_s,
        "untuned_dps": len(docs) / plain_s,
    }


def _report(res: dict[str, Any], machine: Machine, cmd: str) -> str:
    return "\n".join(
        [
            machine.line(),
            "",
            f"Command: `{cmd}`",
            "",
            f"Figure 3 — {res['docs']} documents (mean {res['mean_doc_bytes'] / 1024:.1f} KB of "
            f"JSON), chunk size {res['chunk_size']}, median of {res['rounds']} rounds; in each "
            f"round both load the same documents into their own fresh index, {res['slice']} at a "
            "time, taking turns; documents/second (target ≥ 0.95×):",
            "",
            table(
                ["raw streaming_bulk", "newsdesk write_articles", "ratio"],
                [
                    [
                        res["raw_dps"],
                        res["writer_dps"],
                        f"{res['ratio']:.2f}× ({verdict(res['ratio'], 0.95)}); rounds "
                        + ", ".join(f"{r:.2f}" for r in res["ratios"]),
                    ]
                ],
            ),
            "",
            f"Client-side CPU (this process; Elasticsearch's work is the same for both): raw / "
            f"writer = {res['cpu_ratio']:.3f}×, writer {res['writer_cpu_ms_per_doc']:.2f} ms "
            "CPU per document. The wall ratio can only differ from 1 through this CPU or noise.",
            "",
            "Tuning, one load each with the writer (documents/second):",
            "",
            table(
                ["chunk (docs)", "MB per bulk", "docs/s"],
                [[s["chunk"], s["mb_per_bulk"], s["dps"]] for s in res["sweep"]],
            ),
            "",
            table(
                ["index settings during the load", "docs/s"],
                [
                    ["template defaults (refresh 1s, replicas 0-1)", res["untuned_dps"]],
                    ["refresh_interval -1, replicas 0, restored after", res["tuned_dps"]],
                ],
            ),
        ]
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.indexing", description=__doc__)
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--distinct", type=int, default=60, help="pages extracted, then cloned")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunks", default="100,200,500,1000")
    parser.add_argument("--slice", type=int, default=1000, help="documents per turn")
    parser.add_argument("--results", default=None)
    parser.add_argument("--no-record", action="store_true")
    argv = list(argv) if argv is not None else sys.argv[1:]
    args = parser.parse_args(argv)
    machine = Machine()
    say("building documents")
    docs = documents(args.docs, args.distinct)
    chunks = [int(c) for c in args.chunks.split(",") if c.strip()]
    with elasticsearch() as es_url:
        res = run(es_url, docs, args.rounds, chunks, args.slice)
    machine.stop()
    report = _report(res, machine, command("bench.indexing", argv))
    print(report)
    if not args.no_record:
        append("Figure 3: indexing", report, Path(args.results) if args.results else None)
        OUT.mkdir(exist_ok=True)
        (OUT / "indexing.json").write_text(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
