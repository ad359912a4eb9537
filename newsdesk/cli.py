"""The `newsdesk` command line: demo, ingest, search, show and the local Elasticsearch node."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from elasticsearch import TransportError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from newsdesk import cli_ops, cli_sources
from newsdesk.cli_config import config_app
from newsdesk.cli_errors import friendly_errors
from newsdesk.errors import NewsdeskError
from newsdesk.models import RunSummary
from newsdesk.search import SearchRequest, SearchResult
from newsdesk.settings import Settings, get_settings

app = typer.Typer(
    help="Event-driven news ingestion and search.", no_args_is_help=True, add_completion=False
)
es_app = typer.Typer(help="Manage the local single-node Elasticsearch.", no_args_is_help=True)
app.add_typer(es_app, name="es")
app.add_typer(config_app, name="config")
console = Console()
err_console = Console(stderr=True)

Opt = list[str] | None


def _client(settings: Settings) -> Any:
    from newsdesk.es_client import connect

    return connect(settings)


_MARK = re.compile(r"</?mark>")


def _highlight(fragment: str) -> str:
    """Elasticsearch's HTML-escaped fragment as rich markup with the hit in bold."""
    import html

    parts = _MARK.split(fragment)
    return "".join(
        f"[bold yellow]{escape(html.unescape(p))}[/]" if i % 2 else escape(html.unescape(p))
        for i, p in enumerate(parts)
    )


def print_results(result: SearchResult, query: str) -> None:
    console.print(f"[bold]{result.total}[/] result(s) for [cyan]{escape(query or '*')}[/]")
    for n, hit in enumerate(result.hits, 1):
        a = hit.article
        when = a.published_at.date().isoformat() if a.published_at else "undated"
        authors = ", ".join(x.name for x in a.authors) or "no byline"
        console.print(f"\n[bold]{n}. {escape(a.title)}[/]")
        console.print(f"   [dim]{escape(a.source)} · {when} · {escape(authors)} · id {a.id}[/]")
        console.print(f"   [link={a.url}]{escape(a.url)}[/link]")
        for fragment in hit.highlights[:2]:
            console.print(f"   … {_highlight(fragment)} …")


def print_summary(summary: RunSummary) -> None:
    table = Table(title="Ingest run", show_header=False)
    for label, value in [
        ("feeds polled", summary.feeds_polled),
        ("feeds failed", summary.feeds_failed),
        ("entries found", summary.entries_found),
        ("articles fetched", summary.fetched),
        ("indexed", summary.indexed),
        ("skipped", summary.skipped),
        ("failed", summary.failed),
    ]:
        table.add_row(label, str(value))
    console.print(table)
    problems = [o for o in summary.outcomes if o.status != "indexed"]
    if problems:
        detail = Table(title="Not indexed", show_lines=False)
        for col in ("status", "stage", "url", "reason"):
            detail.add_column(col)
        for o in problems[:50]:
            detail.add_row(o.status.value, o.stage, escape(o.url), escape(o.reason or ""))
        console.print(detail)


def run_ingest(settings: Settings, **kwargs: Any) -> RunSummary:
    """Run the ingest flow against `PREFECT_API_URL`, or a Prefect server under the data dir."""

    from newsdesk import prefect_server

    if not os.environ.get("PREFECT_API_URL"):
        console.print("Starting a Prefect server for this run (set PREFECT_API_URL to use yours)")
    with prefect_server.api(settings.data_dir / "prefect"):
        from flows.ingest import ingest

        summary: RunSummary = ingest(settings=settings, **kwargs)
    return summary


@app.command()
@friendly_errors
def ingest(
    feeds: Annotated[
        Path | None, typer.Option(help="Sources file (default config/feeds.yaml).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON.")] = False,
) -> None:
    """Poll the configured feeds once and index new articles."""
    settings = get_settings()
    from newsdesk.sources import load_feeds

    load_feeds(feeds or settings.feeds_file)
    from newsdesk.es_client import ensure_reachable

    ensure_reachable(settings)
    summary = run_ingest(settings, feeds_file=str(feeds or settings.feeds_file))
    if as_json:
        print(summary.model_dump_json(indent=2))
    else:
        print_summary(summary)
    if summary.indexed == 0 and (summary.failed or summary.feeds_failed):
        raise typer.Exit(1)


@app.command()
@friendly_errors
def search(
    query: Annotated[
        str, typer.Argument(help='Words, "phrases", OR, -exclusions, field:value prefixes.')
    ] = "",
    source: Annotated[Opt, typer.Option(help="Only this source (repeatable).")] = None,
    author: Annotated[Opt, typer.Option(help="Only articles by this author.")] = None,
    author_location: Annotated[Opt, typer.Option(help="Author based in this place.")] = None,
    person: Annotated[Opt, typer.Option(help="Mentions this person.")] = None,
    org: Annotated[Opt, typer.Option(help="Mentions this organisation.")] = None,
    place: Annotated[Opt, typer.Option(help="Mentions this place.")] = None,
    speaker: Annotated[Opt, typer.Option(help="Quotes this speaker.")] = None,
    since: Annotated[str | None, typer.Option(help="Published on or after (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Published on or before (YYYY-MM-DD).")] = None,
    language: Annotated[Opt, typer.Option(help="Language code, e.g. en.")] = None,
    has_quotes: Annotated[bool, typer.Option(help="Only articles with quotes.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 10,
    newest: Annotated[bool, typer.Option(help="Sort by date instead of relevance.")] = False,
    oldest: Annotated[bool, typer.Option(help="Oldest first.")] = False,
    duplicates: Annotated[
        bool, typer.Option("--duplicates", help="Show every copy of near-duplicate stories.")
    ] = False,
    facets: Annotated[bool, typer.Option(help="Print facet counts and the timeline.")] = False,
    cursor: Annotated[str | None, typer.Option(help="Cursor of the next page.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
) -> None:
    """Search indexed articles (duplicates collapsed; --duplicates shows every copy)."""
    from newsdesk.search import run_search

    req = _search_request(
        query=query,
        source=source or [],
        author=author or [],
        author_location=author_location or [],
        person=person or [],
        org=org or [],
        place=place or [],
        speaker=speaker or [],
        language=language or [],
        since=since,
        until=until,
        has_quotes=has_quotes,
        limit=limit,
        sort="oldest" if oldest else "newest" if newest else "relevance",
        collapse=not duplicates,
        facets=facets,
        cursor=cursor,
    )
    settings = get_settings()
    client = _client(settings)
    try:
        result = run_search(client, settings, req)
    finally:
        client.close()
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        print_search_page(result, query)


@app.command()
@friendly_errors
def show(article_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show every field of one article."""
    from newsdesk.search import get_article

    settings = get_settings()
    client = _client(settings)
    try:
        article = get_article(client, settings, article_id)
    finally:
        client.close()
    if article is None:
        err_console.print(f"[bold red]error:[/] no article with id {escape(article_id)}")
        raise typer.Exit(1)
    if as_json:
        print(article.model_dump_json(indent=2))
        return
    console.print(f"[bold]{escape(article.title)}[/]")
    data = article.model_dump(mode="json", exclude={"title", "body", "sections"})
    for key, value in data.items():
        if value not in (None, [], {}):
            console.print(f"[cyan]{key}[/]: {escape(json.dumps(value, ensure_ascii=False))}")
    for section in article.sections:
        if section.heading:
            console.print(f"\n[bold]{escape(section.heading)}[/]")
        for para in section.paragraphs:
            console.print(escape(para))


DEMO_PORT = 8719


def _demo_port() -> int:
    """A fixed port when free, so article URLs (and ids) stay the same across demo runs."""
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", DEMO_PORT))
        except OSError:
            return 0
    return DEMO_PORT


@app.command()
@friendly_errors
def demo() -> None:
    """Start a local Elasticsearch, ingest a bundled sample news site, and search it."""
    from newsdesk.demo_site import find_seed_article
    from newsdesk.demo_site.server import serve_site
    from newsdesk.search import run_search
    from newsdesk.sources import SourceConfig

    settings = get_settings()
    if not settings.es_url:
        from newsdesk import es_node

        with console.status("Starting the local Elasticsearch node…"):
            es_node.start(settings, log=lambda msg: console.print(f"[dim]{escape(msg)}[/]"))
    seed = find_seed_article()
    if seed is None:
        console.print(
            "[yellow]The reference article (../shared/seed/article.txt) is not here; "
            "the demo site serves only its own pages.[/]"
        )
    with serve_site(seed=seed, port=_demo_port()) as base_url:
        console.print(f"Sample news site at {base_url}")
        sources = [
            SourceConfig(name="demo-news", url=f"{base_url}/feed.xml"),  # type: ignore[arg-type]
            SourceConfig(name="demo-partner", url=f"{base_url}/partner/feed.xml"),  # type: ignore[arg-type]
        ]
        summary = run_ingest(settings, sources=sources, allow_hosts=["127.0.0.1"])
    print_summary(summary)
    query = '"Little Rocket Man"' if seed else "news"
    client = _client(settings)
    try:
        result = run_search(client, settings, SearchRequest(query=query, limit=5))
    finally:
        client.close()
    print_results(result, query)
    console.print(
        '\nSearch further with [bold]newsdesk search "QUERY"[/] '
        "(options: --author, --source, --since, --until, --json); "
        "stop the node with [bold]newsdesk es stop[/]."
    )


@app.command("eval")
@friendly_errors
def evaluate(
    corpus: Annotated[Path, typer.Argument(help="A corpus folder (extraction-dev or aeb format).")],
    fmt: Annotated[str, typer.Option("--format", help="auto, extraction-dev or aeb.")] = "auto",
    limit: Annotated[int | None, typer.Option(min=1, help="Score only the first N pages.")] = None,
    extractor: Annotated[
        list[str] | None, typer.Option(help="newsdesk, trafilatura, trafilatura-no-comments.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Score extraction on a corpus, side by side with plain trafilatura."""
    from newsdesk.evaluation import render_table, run_evaluation

    report = run_evaluation(
        corpus, fmt=fmt, limit=limit, extractors=extractor or ("newsdesk", "trafilatura")
    )
    if as_json:
        print(report.model_dump_json(indent=2))
    else:
        console.print(render_table(report))


@es_app.command("start")
@friendly_errors
def es_start() -> None:
    """Start (or find) the local node and print its URL."""
    from newsdesk import es_node

    settings = get_settings()
    with console.status("Starting Elasticsearch…"):
        info = es_node.start(settings, log=lambda msg: err_console.print(f"[dim]{escape(msg)}[/]"))
    console.print(f"Elasticsearch {info.version} running at {info.url} (pid {info.pid})")


@es_app.command("status")
@friendly_errors
def es_status() -> None:
    """Say whether the local node runs, and where."""
    from newsdesk import es_node

    info = es_node.status(get_settings())
    if info is None:
        console.print("Elasticsearch: not running")
        raise typer.Exit(1)
    console.print(f"Elasticsearch {info.version} running at {info.url} (pid {info.pid})")


@es_app.command("stop")
@friendly_errors
def es_stop() -> None:
    """Stop the local node."""
    from newsdesk import es_node

    stopped = es_node.stop(get_settings())
    console.print("Elasticsearch stopped" if stopped else "Elasticsearch was not running")


# --- Search faces: search helpers, quotes, export, submit, api (issue 6) --------------------


def _search_request(**fields: Any) -> SearchRequest:
    """A SearchRequest from CLI options; bad values exit with one line naming them."""
    from pydantic import ValidationError

    from newsdesk.search_syntax import QuerySyntaxError

    try:
        req = SearchRequest(**{k: v for k, v in fields.items() if v is not None})
        _ = req.parsed
    except (ValidationError, QuerySyntaxError) as exc:
        err_console.print(f"[bold red]error:[/] invalid search option: {escape(str(exc))}")
        raise typer.Exit(2) from None
    return req


def print_search_page(result: SearchResult, query: str) -> None:
    """Results as `print_results` shows them, plus copies, facets, timeline and the cursor."""
    stories = f" in {result.stories} stories" if result.stories is not None else ""
    console.print(
        f"[bold]{result.total}[/] article(s){stories} for [cyan]{escape(query or '*')}[/]"
        + (f" · page {result.page}" if result.page > 1 else "")
    )
    for n, hit in enumerate(result.hits, 1):
        a = hit.article
        when = a.published_at.date().isoformat() if a.published_at else "undated"
        authors = ", ".join(x.name for x in a.authors) or "no byline"
        copies = f" [black on yellow] +{hit.copies} copies [/]" if hit.copies else ""
        console.print(f"\n[bold]{n}. {escape(a.title)}[/]{copies}")
        console.print(f"   [dim]{escape(a.source)} · {when} · {escape(authors)} · id {a.id}[/]")
        console.print(f"   [link={a.url}]{escape(a.url)}[/link]")
        for fragment in hit.highlights[:2]:
            console.print(f"   … {_highlight(' '.join(fragment.split()))} …")
    if result.facets:
        from newsdesk.search import FACET_LABELS

        table = Table(title="Facets", show_header=False, box=None)
        for name, values in result.facets.items():
            if values:
                shown = ", ".join(f"{escape(v.value)} [dim]{v.count}[/]" for v in values[:8])
                table.add_row(f"[cyan]{FACET_LABELS[name]}[/]", shown)
        console.print(table)
    if result.timeline and result.timeline.buckets:
        peak = max(b.count for b in result.timeline.buckets) or 1
        bars = "".join(" ▁▂▃▄▅▆▇█"[round(8 * b.count / peak)] for b in result.timeline.buckets)
        console.print(
            f"per {result.timeline.interval}: {result.timeline.buckets[0].start} "
            f"[green]{bars}[/] {result.timeline.buckets[-1].end}"
        )
    if result.next_cursor:
        console.print(f"\n[dim]next page: --cursor {result.next_cursor}[/]")


@app.command()
@friendly_errors
def quotes(
    query: Annotated[str, typer.Argument(help='Words of the quote, or a "phrase".')] = "",
    speaker: Annotated[str | None, typer.Option(help="Who said it (words of the name).")] = None,
    source: Annotated[Opt, typer.Option(help="Only this source (repeatable).")] = None,
    since: Annotated[str | None, typer.Option(help="Published on or after (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Published on or before (YYYY-MM-DD).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100, help="Articles per page.")] = 10,
    newest: Annotated[bool, typer.Option(help="Newest first instead of best match.")] = False,
    cursor: Annotated[str | None, typer.Option(help="Cursor of the next page.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print quotes as JSON.")] = False,
) -> None:
    """What did X say about Y: quotes by speaker and words, with article and date."""
    from newsdesk.search import run_quote_search

    if not (query.strip() or (speaker or "").strip()):
        err_console.print("[bold red]error:[/] give words of the quote, --speaker, or both")
        raise typer.Exit(2)
    req = _search_request(
        quote_text=query or None,
        quote_speaker=speaker,
        source=source or [],
        since=since,
        until=until,
        limit=limit,
        sort="newest" if newest else "relevance",
        cursor=cursor,
    )
    settings = get_settings()
    client = _client(settings)
    try:
        result = run_quote_search(client, settings, req)
    finally:
        client.close()
    if as_json:
        print(result.model_dump_json(indent=2))
        return
    console.print(
        f"[bold]{result.quotes or 0}[/] quote(s) in [bold]{result.articles}[/] article(s)"
    )
    for q in result.hits:
        when = q.published_at.date().isoformat() if q.published_at else "undated"
        console.print(f"\n  “{_highlight(q.html)}”")
        console.print(f"  — [bold]{escape(q.speaker or 'unattributed')}[/]", end="")
        console.print(f" [dim]{escape(q.verb or '')}[/]")
        console.print(
            f"  [dim]{escape(q.title)} · {escape(q.source)} · {when} · id {q.article_id}[/]"
        )
    if result.next_cursor:
        console.print(f"\n[dim]next page: --cursor {result.next_cursor}[/]")


@app.command()
@friendly_errors
def export(
    query: Annotated[str, typer.Argument(help="Search text (same syntax as search).")] = "",
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "csv",
    fields: Annotated[
        str | None, typer.Option(help="Comma-separated fields (default: id,url,title,…).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default stdout).")
    ] = None,
    max_rows: Annotated[int | None, typer.Option(min=1, help="Only the first N rows.")] = None,
    collapse: Annotated[bool, typer.Option(help="One article per duplicate cluster.")] = False,
    source: Annotated[Opt, typer.Option(help="Only this source (repeatable).")] = None,
    author: Annotated[Opt, typer.Option(help="Only articles by this author.")] = None,
    person: Annotated[Opt, typer.Option(help="Mentions this person.")] = None,
    org: Annotated[Opt, typer.Option(help="Mentions this organisation.")] = None,
    place: Annotated[Opt, typer.Option(help="Mentions this place.")] = None,
    language: Annotated[Opt, typer.Option(help="Language code.")] = None,
    since: Annotated[str | None, typer.Option(help="Published on or after (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Published on or before (YYYY-MM-DD).")] = None,
    newest: Annotated[bool, typer.Option(help="Newest first.")] = False,
) -> None:
    """Export every result of a search (all pages) as CSV or JSON Lines."""
    import sys

    from newsdesk import export as export_mod
    from newsdesk.search_syntax import InvalidSearch

    if fmt not in ("csv", "jsonl"):
        err_console.print(f"[bold red]error:[/] --format must be csv or jsonl, not {escape(fmt)}")
        raise typer.Exit(2)
    try:
        chosen = export_mod.parse_fields(fields)
    except InvalidSearch as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    req = _search_request(
        query=query,
        source=source or [],
        author=author or [],
        person=person or [],
        org=org or [],
        place=place or [],
        language=language or [],
        since=since,
        until=until,
        sort="newest" if newest else "relevance",
        collapse=collapse,
    )
    settings = get_settings()
    client = _client(settings)
    rows = 0
    try:
        chunks = export_mod.stream_export(
            client, settings, req, chosen, "jsonl" if fmt == "jsonl" else "csv", max_rows
        )
        sink = open(output, "wb") if output else sys.stdout.buffer  # noqa: SIM115
        try:
            for chunk in chunks:
                sink.write(chunk)
                rows += chunk.count(b"\n")
            sink.flush()
        finally:
            if output:
                sink.close()
    finally:
        client.close()
    if output:
        header = 1 if fmt == "csv" else 0
        err_console.print(f"Wrote {output} ({max(rows - header, 0)} rows, {fmt})")


@app.command()
@friendly_errors
def submit(
    urls: Annotated[list[str], typer.Argument(help="Article URLs to ingest.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Submit article URLs for ingestion; says which were accepted and why others were not."""

    from newsdesk.submissions import check_urls, queue_path, record_accepted

    settings = get_settings()
    try:
        client = _client(settings)
    except NewsdeskError:
        client = None
    try:
        result = check_urls(client, settings, urls)
    except TransportError:
        result = check_urls(None, settings, urls)
    finally:
        if client is not None:
            client.close()
    if result.accepted:
        record_accepted(settings, result.accepted)
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        table = Table(title="Submitted URLs")
        for col in ("", "url", "detail"):
            table.add_column(col)
        for a in result.accepted:
            table.add_row("[green]accepted[/]", escape(a.url), f"id {a.article_id}")
        for r in result.refused:
            table.add_row("[red]refused[/]", escape(r.url), escape(r.reason))
        console.print(table)
        if result.accepted:
            console.print(f"[dim]queued in {queue_path(settings)} for the ingestion pipeline[/]")
    if not result.accepted:
        raise typer.Exit(1)


@app.command()
@friendly_errors
def api(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
) -> None:
    """Serve the HTTP API (docs at /docs) and the web page (at /)."""
    import uvicorn

    from newsdesk.api import create_app

    settings = get_settings()
    console.print(f"newsdesk on http://{host}:{port}/ (API docs at /docs)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


# Operations (up/down/status/serve/deploy/automations/websub) live in newsdesk.cli_ops.
cli_ops.register(app)
cli_sources.register(app)  # sources, failures, failures retry


def main() -> None:
    app()


if __name__ == "__main__":
    main()
