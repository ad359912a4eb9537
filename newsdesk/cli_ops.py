"""Operations commands: `up`, `down`, `status`, `serve`, `deploy`, `automations`, `websub`.

Registered on the main app by `newsdesk.cli` (`register(app)`). Long work shows a live status
on a terminal and plain log lines otherwise; `--json` prints machine-readable results.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from newsdesk.cli_errors import friendly_errors
from newsdesk.errors import NewsdeskError
from newsdesk.settings import Settings, get_settings

console = Console()
err_console = Console(stderr=True)
websub_app = typer.Typer(help="WebSub push subscriptions (feeds that advertise a hub).")
_registered: list[typer.Typer] = []


def _has_command(name: str) -> bool:
    for app in _registered:
        for command in app.registered_commands:
            if (command.name or (command.callback.__name__ if command.callback else "")) == name:
                return True
    return False


def _require_prefect_api() -> str:
    url = os.environ.get("PREFECT_API_URL")
    if not url:
        raise NewsdeskError(
            "PREFECT_API_URL is not set: point it at a Prefect server "
            "(or run `newsdesk up`, which starts one)"
        )
    return url


def _keep_bytecode(settings: Settings) -> None:
    """Flow runs start in fresh processes; when the environment forbids writing bytecode
    (PYTHONDONTWRITEBYTECODE), each would recompile Prefect and newsdesk (seconds per run).
    Keep bytecode under the cache dir instead (never in the source tree)."""
    if not sys.dont_write_bytecode or os.environ.get("PYTHONPYCACHEPREFIX"):
        return
    prefix = settings.cache_dir / "pycache"
    prefix.mkdir(parents=True, exist_ok=True)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(prefix)
    sys.dont_write_bytecode = False
    sys.pycache_prefix = str(prefix)


# --- up / status / down ---------------------------------------------------------------------


def _status_table(statuses: list[Any]) -> Table:
    table = Table(show_header=True, header_style="bold", box=None)
    for col in ("service", "pid", "state", "url"):
        table.add_column(col)
    for s in statuses:
        state = "[green]running[/]" if s.alive else "[red]gone[/]"
        if s.alive and getattr(s, "healthy", None) is False:
            state = "[yellow]unhealthy[/]"
        table.add_row(s.name, str(s.pid), state, escape(s.url or ""))
    return table


@friendly_errors
def up(
    prefect_port: Annotated[int, typer.Option(help="Port of the Prefect server/dashboard.")] = 4200,
    api_port: Annotated[int, typer.Option(help="Port of the search API and web page.")] = 8000,
    feeds: Annotated[
        Path | None, typer.Option(help="Sources file (default config/feeds.yaml).")
    ] = None,
    api: Annotated[bool, typer.Option(help="Start the search API (`newsdesk api`).")] = True,
    websub: Annotated[
        bool | None,
        typer.Option(
            help="Start the WebSub callback (default: when NEWSDESK_WEBSUB_CALLBACK_URL is set)."
        ),
    ] = None,
) -> None:
    """Run the whole system: Elasticsearch, Prefect server, deployments, API.

    Stays in the foreground until Ctrl-C (or `newsdesk down` from another terminal).
    """
    from newsdesk import supervisor as sv

    settings = get_settings()
    if feeds is not None:
        from newsdesk.sources import load_feeds

        load_feeds(feeds)
        feeds = feeds.resolve()
    with_api = api and _has_command("api")
    tty = console.is_terminal
    live: Live | None = None

    def log(message: str) -> None:
        if tty:
            console.print(escape(message))
        else:
            print(message, flush=True)

    if api and not with_api:
        log("api: no `newsdesk api` command in this version; the search API is not started")
    sup = sv.Supervisor(
        settings,
        prefect_port=prefect_port,
        api_port=api_port,
        feeds_file=feeds,
        with_api=with_api,
        websub=websub,
        log=log,
    )
    announced = False

    def on_tick(s: sv.Supervisor) -> None:
        nonlocal announced, live
        if not announced:
            announced = True
            lines = [f"newsdesk is up (data in {settings.data_dir})"]
            lines.append(f"  dashboard:   {s.state.dashboard_url}")
            if s.state.api_url:
                lines.append(f"  search page: {s.state.api_url}/")
                lines.append(f"  API docs:    {s.state.api_url}/docs")
            lines.append(f"  Elasticsearch: {s.state.es_url}")
            lines.append("Stop with Ctrl-C or `newsdesk down`.")
            for line in lines:
                log(line)
            if tty:
                live = Live(_status_table(s.statuses()), console=console, refresh_per_second=1)
                live.start()
        elif live is not None:
            live.update(_status_table(s.statuses()))

    try:
        code = sv.run(sup, on_tick=on_tick)
    finally:
        if live is not None:
            live.stop()
    raise typer.Exit(code)


@friendly_errors
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Whether `newsdesk up` runs, and the state of each of its services."""
    from newsdesk import supervisor as sv

    result = sv.status(get_settings())
    if as_json:
        print(json.dumps(result.model_dump(mode="json"), indent=2))
    elif not result.running:
        console.print("newsdesk is not up")
    else:
        console.print(f"newsdesk up (pid {result.supervisor_pid}, {result.phase})")
        console.print(_status_table(result.children))
    healthy = result.running and all(c.alive for c in result.children)
    raise typer.Exit(0 if healthy else 1)


@friendly_errors
def down(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Stop what `newsdesk up` started (from any terminal)."""
    from newsdesk import supervisor as sv

    messages: list[str] = []
    log = messages.append if as_json else (lambda m: console.print(escape(m)))
    stopped = sv.down(get_settings(), log=log)
    if as_json:
        print(json.dumps({"stopped": stopped, "log": messages}))
    else:
        console.print("newsdesk stopped" if stopped else "newsdesk was not up")


# --- serve / deploy / automations ------------------------------------------------------------


def _deployments(settings: Settings, feeds: Path | None, **kwargs: Any) -> list[Any]:
    from flows.deployments import build_deployments
    from newsdesk.sources import load_feeds

    path = feeds or settings.feeds_file
    feeds_file = load_feeds(path)
    return build_deployments(feeds_file, settings, feeds_file=str(path.resolve()), **kwargs)


@friendly_errors
def serve(
    feeds: Annotated[
        Path | None, typer.Option(help="Sources file (default config/feeds.yaml).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Flow runs at once in this process.")] = 4,
    poll_seconds: Annotated[
        float, typer.Option(min=0.2, help="How often to ask the server for runs to start.")
    ] = 1.0,
    suffix: Annotated[str, typer.Option(help="Appended to deployment names.")] = "",
    automations: Annotated[bool, typer.Option(help="Create the alerting automations.")] = True,
    notify_block: Annotated[
        str | None, typer.Option(help="Prefect notification block for alerts: <type-slug>/<name>.")
    ] = None,
    submissions: Annotated[
        bool, typer.Option(help="Hand URLs queued by `newsdesk submit` / POST /ingest on.")
    ] = True,
) -> None:
    """Serve the deployments here: scheduled polls and event-triggered ingestion.

    One deployment per source group plus the event-triggered ingestion. Needs PREFECT_API_URL.
    """
    _require_prefect_api()
    settings = get_settings()
    _keep_bytecode(settings)
    deployments = _deployments(settings, feeds, suffix=suffix)
    from flows.automations import HEARTBEAT_SECONDS, ensure_automations
    from flows.deployments import serve_deployments

    if automations:
        for name in ensure_automations(settings, notify_block=notify_block):
            print(f"automation: {name}", flush=True)
    for deployment in deployments:
        print(f"serving {deployment.full_name}", flush=True)
    if submissions:
        from flows.submissions import watch_submissions

        watch_submissions(settings)
    serve_deployments(
        deployments, limit=limit, poll_seconds=poll_seconds, heartbeat_seconds=HEARTBEAT_SECONDS
    )


@friendly_errors
def deploy(
    work_pool: Annotated[str, typer.Option(help="Work pool the workers poll.")] = "newsdesk",
    feeds: Annotated[
        Path | None, typer.Option(help="Sources file (default config/feeds.yaml).")
    ] = None,
    automations: Annotated[bool, typer.Option(help="Create the alerting automations.")] = True,
    notify_block: Annotated[str | None, typer.Option(help="<type-slug>/<name> for alerts.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Register the deployments on a work pool, for workers on other machines.

    Workers run `prefect worker start --pool NAME`. Needs PREFECT_API_URL.
    """
    _require_prefect_api()
    settings = get_settings()
    from flows.automations import ensure_automations
    from flows.deployments import register_on_pool

    created = ensure_automations(settings, notify_block=notify_block) if automations else {}
    names = register_on_pool(_deployments(settings, feeds, module_entrypoints=True), work_pool)
    if as_json:
        print(json.dumps({"work_pool": work_pool, "deployments": names, "automations": created}))
        return
    for name in names:
        console.print(f"deployment {name} → work pool {work_pool}")
    for name in created:
        console.print(f"automation {name}")


@friendly_errors
def automations(
    notify_block: Annotated[str | None, typer.Option(help="<type-slug>/<name> for alerts.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create (or replace) the alerting automations in Prefect.

    A source failing N polls in a row (NEWSDESK_ALERT_AFTER_FAILURES), a crashed run, a run
    that went silent.
    """
    _require_prefect_api()
    from flows.automations import ensure_automations

    created = ensure_automations(get_settings(), notify_block=notify_block)
    if as_json:
        print(json.dumps(created))
    else:
        for name, ident in created.items():
            console.print(f"{name} ({ident})")


# --- websub ---------------------------------------------------------------------------------


def _emit_delivery(settings: Settings) -> Callable[[Any, list[Any]], None]:
    from flows.events import emit_feed_polled

    def on_entries(sub: Any, entries: list[Any]) -> None:
        emit_feed_polled(
            settings,
            sub.source,
            feed_url=sub.topic,
            new_entries=entries,
            entries_seen=len(entries),
            via="websub",
        )

    return on_entries


@websub_app.command("serve")
@friendly_errors
def websub_serve(
    host: Annotated[str | None, typer.Option(help="Default NEWSDESK_WEBSUB_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Default NEWSDESK_WEBSUB_PORT.")] = None,
) -> None:
    """Run the callback endpoint hubs deliver to; deliveries become feed-updated events."""
    import uvicorn

    from newsdesk.websub import SubscriptionStore, WebSubSettings, create_callback_app

    _require_prefect_api()
    settings = get_settings()
    ws = WebSubSettings()
    app = create_callback_app(
        SubscriptionStore.for_settings(settings),
        _emit_delivery(settings),
        max_bytes=ws.websub_max_bytes,
    )
    uvicorn.run(app, host=host or ws.websub_host, port=port or ws.websub_port, log_level="info")


@websub_app.command("subscribe")
@friendly_errors
def websub_subscribe(
    sources: Annotated[
        list[str] | None, typer.Argument(help="Source names (default: all with websub: true).")
    ] = None,
    feeds: Annotated[Path | None, typer.Option(help="Sources file.")] = None,
    callback_url: Annotated[
        str | None, typer.Option(help="Default NEWSDESK_WEBSUB_CALLBACK_URL.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Subscribe (or renew) sources whose feed advertises a WebSub hub."""
    from newsdesk.fetch import Fetcher, fetch_with_retries
    from newsdesk.sources import load_feeds
    from newsdesk.websub import SubscriptionStore, WebSubSettings, discover, subscribe

    settings = get_settings()
    ws = WebSubSettings()
    base = callback_url or ws.websub_callback_url
    if not base:
        raise NewsdeskError("no callback URL: set NEWSDESK_WEBSUB_CALLBACK_URL or --callback-url")
    feeds_file = load_feeds(feeds or settings.feeds_file)
    settings = settings.model_copy(
        update={"allow_hosts": [*settings.allow_hosts, *feeds_file.allow_hosts]}
    )
    chosen = [
        s for s in feeds_file.sources if (s.name in sources if sources else s.websub and s.enabled)
    ]
    unknown = set(sources or []) - {s.name for s in chosen}
    if unknown:
        raise NewsdeskError(f"unknown source(s): {', '.join(sorted(unknown))}")
    store = SubscriptionStore.for_settings(settings)
    results: list[dict[str, str]] = []
    with Fetcher(settings) as fetcher:
        for source in chosen:
            try:
                page = fetch_with_retries(fetcher, str(source.url))
                hub, topic = discover(page.content, page.url, source.name)
                if hub is None:
                    results.append({"source": source.name, "result": "no hub advertised"})
                    continue
                sub = subscribe(
                    settings,
                    store,
                    source=source.name,
                    hub=hub,
                    topic=topic,
                    callback_base=base,
                    lease_seconds=ws.websub_lease_seconds,
                )
                results.append(
                    {
                        "source": source.name,
                        "result": f"requested ({sub.state})",
                        "hub": hub,
                        "topic": topic,
                    }
                )
            except NewsdeskError as exc:
                results.append({"source": source.name, "result": f"failed: {exc}"})
    if as_json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        console.print(f"{escape(r['source'])}: {escape(r['result'])}")


@websub_app.command("list")
@friendly_errors
def websub_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Subscriptions and their state (secrets not shown)."""
    from newsdesk.websub import SubscriptionStore

    subs = SubscriptionStore.for_settings(get_settings()).all()
    if as_json:
        print(json.dumps([s.model_dump(mode="json", exclude={"secret"}) for s in subs], indent=2))
        return
    table = Table("source", "state", "topic", "expires", "deliveries", "rejected")
    for s in subs:
        expires = s.expires_at.isoformat(timespec="minutes") if s.expires_at else "-"
        table.add_row(
            s.source, s.state, escape(s.topic), expires, str(s.deliveries), str(s.rejected)
        )
    console.print(table)


@websub_app.command("unsubscribe")
@friendly_errors
def websub_unsubscribe(source: str) -> None:
    """Ask the hub to stop delivering a source."""
    from newsdesk.websub import SubscriptionStore, unsubscribe

    settings = get_settings()
    store = SubscriptionStore.for_settings(settings)
    subs = [s for s in store.all() if s.source == source]
    if not subs:
        raise NewsdeskError(f"no subscription for source {source!r}")
    for sub in subs:
        unsubscribe(settings, store, sub)
        console.print(f"{source}: unsubscribe requested at {sub.hub}")


def register(app: typer.Typer) -> None:
    """Add the operations commands to the `newsdesk` app."""
    _registered.append(app)
    app.command()(up)
    app.command()(status)
    app.command()(down)
    app.command()(serve)
    app.command()(deploy)
    app.command()(automations)
    app.add_typer(websub_app, name="websub")
