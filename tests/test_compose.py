"""Docker does not run on this machine, so the compose file is checked by reading it: every
service names a real image or our build, every `newsdesk` command parses with our CLI, every
`NEWSDESK_*` variable is a setting the code reads, and ports and URLs agree with each other."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from flows.ops_settings import OpsSettings
from newsdesk.api_common import ApiSettings
from newsdesk.cli import app
from newsdesk.settings import Settings
from newsdesk.websub import WebSubSettings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]
OURS = [name for name, svc in SERVICES.items() if svc.get("build") == "."]


def _env(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in (SERVICES[service].get("environment") or {}).items()}


def _parse_newsdesk(command: list[str]) -> Any:
    """Parse `newsdesk ...` exactly as the CLI would, without running it (a click context)."""
    assert command[0] == "newsdesk"
    group: Any = typer.main.get_command(app)
    args = command[1:]
    ctx = group.context_class(group, info_name="newsdesk")
    while hasattr(group, "get_command"):
        name, *args = args
        sub = group.get_command(ctx, name)
        assert sub is not None, f"`newsdesk` has no command {name!r} ({command})"
        group = sub
        ctx = group.context_class(group, info_name=name, parent=ctx)
    return group.make_context(command[1], list(args), parent=ctx)


def test_services_and_images() -> None:
    assert set(SERVICES) >= {
        "elasticsearch",
        "kibana",
        "prefect-server",
        "postgres",
        "deploy",
        "worker",
        "api",
    }
    es_version = SERVICES["elasticsearch"]["image"].split(":")[1]
    assert es_version.startswith("9.")
    assert SERVICES["kibana"]["image"].split(":")[1] == es_version
    from newsdesk.es_node import ES_VERSION

    assert es_version == ES_VERSION, "the same Elasticsearch as the local node"
    pinned = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["dependencies"]
    prefect = next(d for d in pinned if d.startswith("prefect=="))
    assert SERVICES["prefect-server"]["image"].startswith(
        f"prefecthq/prefect:{prefect.removeprefix('prefect==')}-"
    ), "the server runs the Prefect version the workers pin"
    assert set(OURS) >= {"deploy", "worker", "api", "websub"}
    assert (ROOT / "Dockerfile").is_file()


@pytest.mark.parametrize("service", ["deploy", "api", "websub"])
def test_newsdesk_commands_parse_with_the_cli(service: str) -> None:
    _parse_newsdesk(SERVICES[service]["command"])


def test_ports_match_what_the_commands_listen_on() -> None:
    assert "9200:9200" in SERVICES["elasticsearch"]["ports"]
    server = SERVICES["prefect-server"]["command"]
    assert server[:3] == ["prefect", "server", "start"]
    port = server[server.index("--port") + 1]
    assert f"{port}:{port}" in SERVICES["prefect-server"]["ports"]
    for service in ("api", "websub"):
        ctx = _parse_newsdesk(SERVICES[service]["command"])
        assert ctx.params["host"] == "0.0.0.0", f"{service} must listen beyond the container"
        assert f"{ctx.params['port']}:{ctx.params['port']}" in SERVICES[service]["ports"]
    assert "ports" not in SERVICES["worker"], "workers scale, so they publish no ports"


def test_every_newsdesk_variable_is_a_setting_the_code_reads() -> None:
    known = {
        f"NEWSDESK_{name.upper()}"
        for model in (Settings, OpsSettings, WebSubSettings, ApiSettings)
        for name in model.model_fields
    }
    for service in OURS:
        for key in _env(service):
            if key.startswith("NEWSDESK_"):
                assert key in known, f"{service}: {key} is read by nothing"


def test_urls_between_services_agree() -> None:
    port = SERVICES["prefect-server"]["command"][-1]
    for service in OURS:
        env = _env(service)
        assert env["PREFECT_API_URL"] == f"http://prefect-server:{port}/api", service
        assert env["NEWSDESK_ES_URL"] == "http://elasticsearch:9200", service
        assert env["NEWSDESK_ES_PASSWORD"].startswith("${ELASTIC_PASSWORD"), service
    es_hosts = SERVICES["kibana"]["environment"]["ELASTICSEARCH_HOSTS"]
    assert "http://elasticsearch:9200" in es_hosts
    assert SERVICES["kibana"]["environment"]["ELASTICSEARCH_USERNAME"] == "kibana_system"
    assert SERVICES["prefect-server"]["environment"][
        "PREFECT_API_DATABASE_CONNECTION_URL"
    ].startswith("postgresql+asyncpg://prefect:")


def test_workers_poll_the_pool_the_deployments_are_registered_on() -> None:
    deploy = _parse_newsdesk(SERVICES["deploy"]["command"])
    worker = SERVICES["worker"]["command"]
    assert worker[:3] == ["prefect", "worker", "start"]
    assert worker[worker.index("--pool") + 1] == deploy.params["work_pool"]
    assert worker[worker.index("--type") + 1] == "process"
    assert SERVICES["worker"]["depends_on"]["deploy"]["condition"] == (
        "service_completed_successfully"
    )
    assert SERVICES["deploy"]["depends_on"]["prefect-server"]["condition"] == "service_healthy"
    # The worker options exist in the pinned Prefect (checked against its own CLI).
    out = subprocess.run(
        [sys.executable, "-m", "prefect", "worker", "start", "--help"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    for option in (o for o in worker[3:] if o.startswith("--")):
        assert re.search(rf"{option}\b", out), f"prefect worker start has no {option}"


def test_the_image_contains_what_the_commands_need() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text("utf-8")
    for part in ("newsdesk", "extractors", "flows", "config"):
        assert f"COPY {part} ./{part}" in dockerfile
