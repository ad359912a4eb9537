"""pytest plugin: one real `prefect server` for the whole session.

Prefect reads `PREFECT_API_URL` when it is imported, so the URL is fixed when this plugin loads
(before test modules import flows) and the server is started on that port by an autouse
session fixture, since flows also run inside CLI subprocesses that tests cannot see into.
`PREFECT_API_URL` set by the caller wins and no server is started.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsdesk import prefect_server

_EXTERNAL = os.environ.get("PREFECT_API_URL")
_PORT = prefect_server.free_port()
_HOME = Path(tempfile.mkdtemp(prefix="newsdesk-prefect-"))
if not _EXTERNAL:
    os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{_PORT}/api"
os.environ.setdefault("PREFECT_HOME", str(_HOME))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("DO_NOT_TRACK", "1")


@pytest.fixture(scope="session", autouse=True)
def prefect_api_url() -> Iterator[str]:
    if _EXTERNAL:
        yield _EXTERNAL
        return
    try:
        with prefect_server.running(_HOME / "server", _PORT) as url:
            yield url
            from prefect.logging.handlers import APILogWorker

            APILogWorker.drain_all(timeout=10)
    finally:
        shutil.rmtree(_HOME, ignore_errors=True)
