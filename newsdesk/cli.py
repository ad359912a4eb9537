"""The `newsdesk` command line: demo, ingest, search, show and the local Elasticsearch node."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from newsdesk.errors import NewsdeskError
from newsdesk.models import RunSummary
from newsdesk.search import SearchRequest, SearchResult
from newsdesk.settings import Settings, get_settings

app = typer.Typer(
    help="Event-driven news ingestion and search.", no_args_is_help=True, add_completion=False
)
es_app = typer.Typer(help="Manage the local single-node Elasticsearch.", no_args_is_help=True)
app.add_typer(es_app, name="es")
console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Known problems print one line that names them and exit non-zero, without a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except NewsdeskError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


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
    query: Annotated[str, typer.Argument(help='Words, "phrases", OR, -exclusions.')] = "",
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    author: Annotated[str | None, typer.Option(help="Only articles by this author.")] = None,
    since: Annotated[str | None, typer.Option(help="Published on or after (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Published on or before (YYYY-MM-DD).")] = None,
    language: Annotated[str | None, typer.Option(help="Language code, e.g. en.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 10,
    newest: Annotated[bool, typer.Option(help="Sort by date instead of relevance.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
) -> None:
    """Search indexed articles."""
    from newsdesk.search import run_search

    try:
        req = SearchRequest(
            query=query,
            source=source,
            author=author,
            since=date.fromisoformat(since) if since else None,
            until=date.fromisoformat(until) if until else None,
            language=language,
            limit=limit,
            sort="newest" if newest else "relevance",
        )
    except ValueError as exc:
        err_console.print(f"[bold red]error:[/] invalid search option: {escape(str(exc))}")
        raise typer.Exit(2) from None
    settings = get_settings()
    client = _client(settings)
    try:
        result = run_search(client, settings, req)
    finally:
        client.close()
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        print_results(result, query)


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
            info = es_node.start(settings, log=lambda msg: console.print(f"[dim]{escape(msg)}[/]"))
        console.print(f"Elasticsearch is up at {info.url}")
    seed = find_seed_article()
    if seed is None:
        console.print(
            "[yellow]The reference article (../shared/seed/article.txt) is not here; "
            "the demo site serves only its own pages.[/]"
        )
    with serve_site(seed=seed) as base_url:
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
