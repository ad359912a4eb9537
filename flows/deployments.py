"""The deployments newsdesk serves (one machine, `newsdesk serve` / `newsdesk up`) or registers
on a work pool (`newsdesk deploy`, for workers elsewhere — docker-compose.yml).

* `poll-sources/<group>` — one per source group of `config/feeds.yaml`, on the group's schedule
  (`groups.<name>.interval_minutes` or `.cron`; default: the shortest `poll_interval_minutes` of
  its sources). At most one run per group at a time; a run that would overlap is cancelled.
* `ingest-entries/on-event` — triggered by `newsdesk.feed.polled` events that hand entries on
  (`newsdesk.ingest: requested`) and by `newsdesk.url.submitted`; the event's entries become
  the run's `entries` parameter.

Triggers match the index alias (`newsdesk.index` label), so installations that share a Prefect
server do not run each other's ingestions. `suffix` keeps deployment names apart likewise.
"""

from __future__ import annotations

import datetime
from typing import Any

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.events.schemas.deployment_triggers import DeploymentEventTrigger
from prefect.schedules import Cron, Interval

from flows.events import FEED_POLLED, INDEX_LABEL, INGEST_LABEL, URL_SUBMITTED
from flows.ingest import ingest_entries, poll_sources
from newsdesk.settings import Settings
from newsdesk.sources import FeedsFile

ON_EVENT = "on-event"
TAGS = ["newsdesk"]


def event_triggers(settings: Settings, feeds_file: str | None) -> list[DeploymentEventTrigger]:
    alias = settings.index_alias
    extra: dict[str, Any] = {"feeds_file": feeds_file} if feeds_file else {}
    return [
        DeploymentEventTrigger(
            name=f"newsdesk: ingest new feed entries [{alias}]",
            description="A poll or WebSub delivery found new entries: ingest exactly those.",
            expect={FEED_POLLED},
            match={
                "prefect.resource.id": "newsdesk.source.*",
                INDEX_LABEL: alias,
                INGEST_LABEL: "requested",
            },
            parameters={"entries": "{{ event.payload.new_entries }}", **extra},
        ),
        DeploymentEventTrigger(
            name=f"newsdesk: ingest submitted URLs [{alias}]",
            description="URLs a user submitted (CLI or API): ingest them.",
            expect={URL_SUBMITTED},
            match={"prefect.resource.id": "newsdesk.submissions", INDEX_LABEL: alias},
            parameters={"entries": "{{ event.payload.entries }}", **extra},
        ),
    ]


def build_deployments(
    feeds: FeedsFile,
    settings: Settings,
    *,
    feeds_file: str | None = None,
    suffix: str = "",
    module_entrypoints: bool = False,
) -> list[RunnerDeployment]:
    """Every newsdesk deployment for `feeds`: a scheduled poll per group plus the
    event-triggered ingestion. `module_entrypoints` names flows by module path (for workers
    that have newsdesk installed rather than this checkout)."""
    entrypoint = EntrypointType.MODULE_PATH if module_entrypoints else EntrypointType.FILE_PATH
    extra: dict[str, Any] = {"feeds_file": feeds_file} if feeds_file else {}
    deployments: list[RunnerDeployment] = []
    for group in feeds.group_names():
        config = feeds.group_schedule(group)
        if config.cron:
            schedule = Cron(config.cron, timezone=config.timezone)
            when = f"cron {config.cron} ({config.timezone})"
        else:
            minutes = config.interval_minutes or 30.0
            schedule = Interval(datetime.timedelta(minutes=minutes), timezone=config.timezone)
            when = f"every {minutes:g} min"
        deployments.append(
            _built(
                poll_sources.to_deployment(
                    name=f"{group}{suffix}",
                    schedules=[schedule],
                    paused=config.paused,
                    parameters={"group": group, **extra},
                    description=f"Poll the sources of group {group!r} {when}; new entries go on "
                    "as newsdesk.feed.polled events.",
                    tags=[*TAGS, f"group:{group}"],
                    concurrency_limit=ConcurrencyLimitConfig(
                        limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
                    ),
                    entrypoint_type=entrypoint,
                )
            )
        )
    deployments.append(
        _built(
            ingest_entries.to_deployment(
                name=f"{ON_EVENT}{suffix}",
                parameters=extra,
                description="Ingest the entries named by a newsdesk.feed.polled or "
                "newsdesk.url.submitted event.",
                tags=TAGS,
                triggers=list(event_triggers(settings, feeds_file)),
                entrypoint_type=entrypoint,
            )
        )
    )
    return deployments


def _built(deployment: Any) -> RunnerDeployment:
    """`to_deployment` is typed sync-or-async; called from sync code it is sync."""
    if not isinstance(deployment, RunnerDeployment):
        raise TypeError(f"expected a RunnerDeployment, got {type(deployment).__name__}")
    return deployment


def serve_deployments(
    deployments: list[RunnerDeployment],
    *,
    limit: int,
    poll_seconds: float,
    heartbeat_seconds: int | None = None,
) -> None:
    """Run the deployments here until interrupted: poll the API every `poll_seconds` and start
    each flow run in a child process (at most `limit` at once)."""
    from prefect import serve

    serve(
        *deployments,
        limit=limit,
        query_seconds=poll_seconds,
        heartbeat_seconds=heartbeat_seconds,
        print_starting_message=False,
    )


def register_on_pool(deployments: list[RunnerDeployment], pool: str) -> list[str]:
    """Create (or update) the deployments on work pool `pool`, creating a process pool if
    there is none by that name. Returns the deployments' full names."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(pool)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    names = []
    for deployment in deployments:
        deployment.apply(work_pool_name=pool)
        names.append(deployment.full_name)
    return names
