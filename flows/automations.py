"""Alerting as Prefect automations, created (or replaced, by name) by `newsdesk up` and by
`newsdesk automations`:

* **source failing** — a `newsdesk.source.failing` event, which `poll-sources`/`ingest` emit
  when a source failed `NEWSDESK_ALERT_AFTER_FAILURES` polls in a row (counted from the
  source's earlier `newsdesk.feed.polled` events). Fires at most once an hour per source.
* **run crashed** — a newsdesk flow run (`ingest`, `poll-sources`, `ingest-entries`) entered
  Crashed.
* **silent run** — a newsdesk flow run stopped sending heartbeats (its process or machine
  died without anyone reporting it): it is marked Crashed, which then fires "run crashed".

Without a notification block the automations only flag: their firing shows in the dashboard
(Automations, Event feed: `prefect.automation.action.triggered`). With `notify_block`
("<block-type-slug>/<name>", e.g. `slack-webhook/ops`) they also send a notification.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState, DoNothing, SendNotification
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

from flows.events import INDEX_LABEL, SOURCE_FAILING
from newsdesk.errors import ConfigError
from newsdesk.settings import Settings

FLOW_NAMES = ["ingest", "poll-sources", "ingest-entries"]
HEARTBEAT_SECONDS = 30
_TERMINAL = [
    "prefect.flow-run.Completed",
    "prefect.flow-run.Failed",
    "prefect.flow-run.Cancelled",
    "prefect.flow-run.Crashed",
]


def automation_names(settings: Settings) -> dict[str, str]:
    alias = settings.index_alias
    return {
        "failing": f"newsdesk: source failing [{alias}]",
        "crashed": "newsdesk: run crashed",
        "silent": "newsdesk: silent run marked crashed",
    }


def _notify(block_id: Any, subject: str, body: str) -> list[Any]:
    if block_id is None:
        return [DoNothing()]
    return [SendNotification(block_document_id=block_id, subject=subject, body=body)]


def _resolve_block(client: Any, notify_block: str | None) -> Any:
    if not notify_block:
        return None
    slug, _, name = notify_block.partition("/")
    if not name:
        raise ConfigError(f"notification block {notify_block!r}: expected <block-type-slug>/<name>")
    from prefect.exceptions import ObjectNotFound

    try:
        return client.read_block_document_by_name(name, block_type_slug=slug).id
    except ObjectNotFound:
        raise ConfigError(f"no Prefect block {notify_block!r}; create it first") from None


def newsdesk_automations(settings: Settings, block_id: Any = None) -> list[AutomationCore]:
    names = automation_names(settings)
    newsdesk_flows: dict[str, str | list[str]] = {
        "prefect.resource.role": "flow",
        "prefect.resource.name": list(FLOW_NAMES),
    }
    return [
        AutomationCore(
            name=names["failing"],
            description="A source failed several polls in a row (see the event's payload).",
            tags=["newsdesk"],
            trigger=EventTrigger(
                expect={SOURCE_FAILING},
                match={
                    "prefect.resource.id": "newsdesk.source.*",
                    INDEX_LABEL: settings.index_alias,
                },
                for_each={"prefect.resource.id"},
                posture=Posture.Reactive,
                threshold=1,
                within=timedelta(hours=1),
            ),
            actions=_notify(
                block_id,
                "newsdesk: source {{ event.resource.name }} is failing",
                "{{ event.resource.name }} failed {{ event.payload.consecutive_failures }} "
                "polls in a row: {{ event.payload.error }}",
            ),
        ),
        AutomationCore(
            name=names["crashed"],
            description="A newsdesk flow run crashed (its process died or was killed).",
            tags=["newsdesk"],
            trigger=EventTrigger(
                expect={"prefect.flow-run.Crashed"},
                match={"prefect.resource.id": "prefect.flow-run.*"},
                match_related=newsdesk_flows,
                for_each={"prefect.resource.id"},
                posture=Posture.Reactive,
                threshold=1,
            ),
            actions=_notify(
                block_id,
                "newsdesk: run {{ flow_run.name }} crashed",
                "Flow run {{ flow_run.name }} of {{ flow.name }} crashed: "
                "{{ flow_run.state.message }}",
            ),
        ),
        AutomationCore(
            name=names["silent"],
            description="A newsdesk flow run sent no heartbeat for three intervals: its "
            "process is gone, so mark it Crashed.",
            tags=["newsdesk"],
            trigger=EventTrigger(
                after={"prefect.flow-run.heartbeat"},
                expect={"prefect.flow-run.heartbeat", *_TERMINAL},
                match={"prefect.resource.id": "prefect.flow-run.*"},
                match_related=newsdesk_flows,
                for_each={"prefect.resource.id"},
                posture=Posture.Proactive,
                threshold=1,
                within=timedelta(seconds=HEARTBEAT_SECONDS * 3),
            ),
            actions=[
                ChangeFlowRunState(
                    name="Crashed",
                    state=StateType.CRASHED,
                    force=False,
                    message=f"no heartbeat for {HEARTBEAT_SECONDS * 3} s",
                )
            ],
        ),
    ]


def ensure_automations(settings: Settings, *, notify_block: str | None = None) -> dict[str, str]:
    """Create newsdesk's automations, replacing any of the same name; returns name → id."""
    created: dict[str, str] = {}
    with get_client(sync_client=True) as client:
        block_id = _resolve_block(client, notify_block)
        for automation in newsdesk_automations(settings, block_id):
            for old in client.read_automations_by_name(automation.name):
                client.delete_automation(old.id)
            created[automation.name] = str(client.create_automation(automation))
    return created
