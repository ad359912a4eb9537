"""One Prefect global concurrency limit per source (limit 1), so two runs never poll or ingest
the same source at once, whichever process or machine they run on.

Slots are leased: a run that is killed stops renewing its lease and the server frees the slot
after `OpsSettings.source_lease_seconds` (plus its 15 s sweep), so a crash never leaves a source
locked. Limits are created on first use.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists

from flows.ops_settings import OpsSettings
from newsdesk.errors import NewsdeskError

PREFIX = "newsdesk-source-"


class SourceBusy(NewsdeskError):
    """Another run held a source's lock for longer than this run would wait."""


def lock_name(source: str) -> str:
    return PREFIX + source


def ensure_limits(names: Iterable[str]) -> None:
    with get_client(sync_client=True) as client:
        for name in names:
            with suppress(ObjectAlreadyExists):
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=1)
                )


@contextmanager
def source_locks(
    sources: Iterable[str], *, ops: OpsSettings | None = None, wait: float | None = None
) -> Iterator[None]:
    """Hold the locks of all `sources` (acquired together, so two runs cannot deadlock)."""
    ops = ops or OpsSettings()
    names = sorted({lock_name(s) for s in sources})
    if not names:
        yield
        return
    timeout = ops.source_wait_seconds if wait is None else wait
    held = ExitStack()
    for attempt in (1, 2):
        try:
            held.enter_context(
                concurrency(
                    names,
                    occupy=1,
                    timeout_seconds=timeout,
                    lease_duration=ops.source_lease_seconds,
                    strict=True,
                    raise_on_lease_renewal_failure=False,
                )
            )
            break
        except ConcurrencySlotAcquisitionError:
            if attempt == 2:
                raise
            ensure_limits(names)
        except TimeoutError:
            busy = ", ".join(n.removeprefix(PREFIX) for n in names)
            raise SourceBusy(f"another run holds source(s) {busy} (waited {timeout:g} s)") from None
    with held:
        yield
