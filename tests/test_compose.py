"""Docker does not run on this machine, so the compose file is checked by reading it: every
service names a real image or our build, and commands, environment and ports match the code."""

from __future__ import annotations

from pathlib import Path

import yaml

from newsdesk.cli import app
from newsdesk.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))


def test_services_and_images() -> None:
    services = COMPOSE["services"]
    assert set(services) >= {"elasticsearch", "kibana", "prefect-server", "postgres", "worker"}
    assert services["elasticsearch"]["image"].startswith("elasticsearch:9.")
    assert (
        services["kibana"]["image"].split(":")[1]
        == services["elasticsearch"]["image"].split(":")[1]
    )
    assert services["prefect-server"]["image"].startswith("prefecthq/prefect:3.9.1")
    assert services["worker"]["build"] == "."
    assert (ROOT / "Dockerfile").is_file()


def test_ports_match_what_the_code_expects() -> None:
    services = COMPOSE["services"]
    assert "9200:9200" in services["elasticsearch"]["ports"]
    assert "4200:4200" in services["prefect-server"]["ports"]
    env = services["worker"]["environment"]
    assert env["NEWSDESK_ES_URL"] == "http://elasticsearch:9200"
    assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"


def test_worker_environment_names_real_settings_and_command() -> None:
    env = COMPOSE["services"]["worker"]["environment"]
    fields = set(Settings.model_fields)
    for key in env:
        if key.startswith("NEWSDESK_"):
            assert key.removeprefix("NEWSDESK_").lower() in fields, key
    command = COMPOSE["services"]["worker"]["command"]
    assert command[0] == "newsdesk"
    names = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    assert command[1] in names
