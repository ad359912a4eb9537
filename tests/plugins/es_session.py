"""pytest plugin: one real Elasticsearch for the whole session (`es_url`).

`NEWSDESK_ES_URL`, when set, names a cluster to use instead. Otherwise an `ephemeral_node` runs
for the session; its URL is also put in `NEWSDESK_ES_URL` so subprocesses (CLI tests) use it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsdesk import es_node
from newsdesk.settings import Settings


@pytest.fixture(scope="session")
def es_url() -> Iterator[str]:
    previous = os.environ.get("NEWSDESK_ES_URL")
    if previous:
        yield previous
        return
    # Not tmp_path_factory: pytest's base temp is mode 700, which the unprivileged user that
    # runs Elasticsearch under root could not traverse.
    base = Path(tempfile.mkdtemp(prefix="newsdesk-es-"))
    base.chmod(0o755)
    try:
        with es_node.ephemeral_node(base, settings=Settings()) as info:
            os.environ["NEWSDESK_ES_URL"] = info.url
            try:
                yield info.url
            finally:
                if previous is None:
                    os.environ.pop("NEWSDESK_ES_URL", None)
                else:
                    os.environ["NEWSDESK_ES_URL"] = previous
    finally:
        shutil.rmtree(base, ignore_errors=True)
