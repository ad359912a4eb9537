"""Source health and dead letters: `newsdesk sources`, `newsdesk failures [retry]`.

Registered on the main app by `newsdesk.cli` (`register(app)`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from newsdesk.cli_errors import friendly_errors
from newsdesk.settings import Settings, get_settings

console = Console()
err_console = Console(stderr=True)
failures_app = typer.Typer(
    help="Articles that failed for good (dead letters): list them, or retry them."
)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _settings_with_hosts(settings: Settings, feeds: Path | None) -> Settings:
    """Settings plus the sources file's `allow_hosts` (retries fetch what its feeds linked)."""
    from newsdesk.errors import ConfigError
    from newsdesk.sources import load_feeds

    try:
        hosts = load_feeds(feeds or settings.feeds_file).allow_hosts
    except ConfigError:
        if feeds is not None:
            raise
        return settings
    extra = [h for h in hosts if h not in settings.allow_hosts]
    return settings.model_copy(update={"allow_hosts": [*settings.allow_hosts, *extra]})


FeedsOpt = Annotated[Path | None, typer.Option(help="Sources file (default config/feeds.yaml).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@friendly_errors
def sources(feeds: FeedsOpt = None, as_json: JsonOpt = False) -> None:
    """Every configured source with its health, last new article and article count."""
    from newsdesk.es_client import connect
    from newsdesk.source_state import source_health
    from newsdesk.sources import load_feeds

    settings = get_settings()
    configured = load_feeds(feeds or settings.feeds_file).sources
    client = connect(settings)
    try:
        rows = source_health(client, settings, configured)
    finally:
        client.close()
    if as_json:
        print("[" + ",\n".join(r.model_dump_json() for r in rows) + "]")
        return
    table = Table(title=f"{len(rows)} source(s)")
    for col in ("source", "health", "last poll", "last new article", "articles", "next due"):
        table.add_column(col)
    for r in rows:
        health = "[green]ok[/]" if r.health == "ok" else escape(r.health)
        if r.health.startswith("failing"):
            health = f"[red]{escape(r.health)}[/]"
            if r.last_error:
                health += f"\n[dim]{escape(r.last_error[:120])}[/]"
        name = escape(r.name) + ("" if r.enabled else " [dim](disabled)[/]")
        due = _when(r.next_due_at)
        if r.interval_minutes:
            due += f" [dim](every {r.interval_minutes:g} min)[/]"
        table.add_row(
            name, health, _when(r.last_poll_at), _when(r.last_new_article_at), str(r.articles), due
        )
    console.print(table)


@failures_app.callback(invoke_without_command=True)
@friendly_errors
def failures(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    include_retrying: Annotated[
        bool, typer.Option("--retrying", help="Also list links still being retried.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 200,
    as_json: JsonOpt = False,
) -> None:
    """List dead-lettered articles: reason, stage, attempts, first and last failure."""
    if ctx.invoked_subcommand:
        return
    from newsdesk.deadletter import list_letters
    from newsdesk.es_client import connect

    settings = get_settings()
    client = connect(settings)
    try:
        letters = list_letters(
            client,
            settings,
            states=("dead", "retry") if include_retrying else ("dead",),
            source=source,
            limit=limit,
        )
    finally:
        client.close()
    if as_json:
        print("[" + ",\n".join(letter.model_dump_json() for letter in letters) + "]")
        return
    if not letters:
        console.print("No dead letters.")
        return
    table = Table(title=f"{len(letters)} failed article(s)")
    for col in ("url", "source", "stage", "reason", "attempts", "first failed", "last failed"):
        table.add_column(col)
    for letter in letters:
        attempts = str(letter.attempts) + (" [dim](retrying)[/]" if letter.state == "retry" else "")
        table.add_row(
            escape(letter.url),
            escape(letter.source or "-"),
            letter.stage or "-",
            escape(letter.reason or "-"),
            attempts,
            _when(letter.first_failed_at),
            _when(letter.last_failed_at),
        )
    console.print(table)
    console.print("[dim]Try them again with: newsdesk failures retry[/]")


@failures_app.command("retry")
@friendly_errors
def failures_retry(
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    url: Annotated[
        list[str] | None, typer.Option(help="Only this URL (repeatable).", show_default=False)
    ] = None,
    feeds: FeedsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run dead letters through the ingestion stages again; those that succeed are removed."""
    from newsdesk.deadletter import list_letters
    from newsdesk.es_client import connect
    from newsdesk.fetch import Fetcher
    from newsdesk.index import ensure_index
    from newsdesk.ingest import process_entries
    from newsdesk.models import Status
    from newsdesk.urls import article_id

    settings = _settings_with_hosts(get_settings(), feeds)
    client = connect(settings)
    try:
        ensure_index(client, settings)
        letters = list_letters(client, settings, states=("dead", "retry"), source=source)
        if url:
            wanted = {article_id(u) for u in url}
            letters = [letter for letter in letters if letter.id in wanted]
        if not letters:
            console.print("Nothing to retry.")
            return
        with Fetcher(settings) as fetcher:
            outcomes = process_entries(
                client, fetcher, settings, [letter.entry for letter in letters], include_dead=True
            )
    finally:
        client.close()
    if as_json:
        print("[" + ",\n".join(o.model_dump_json() for o in outcomes) + "]")
    else:
        table = Table(title=f"Retried {len(letters)} dead letter(s)")
        for col in ("result", "url", "detail"):
            table.add_column(col)
        colour = {Status.INDEXED: "green", Status.SKIPPED: "yellow", Status.FAILED: "red"}
        for o in outcomes:
            result = f"[{colour[o.status]}]{o.status.value}[/]"
            table.add_row(result, escape(o.url), escape(o.reason or o.article_id or ""))
        console.print(table)
    if any(o.status is Status.FAILED for o in outcomes):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `sources` and `failures` to the `newsdesk` app."""
    app.command("sources")(sources)
    app.add_typer(failures_app, name="failures")
