"""`newsdesk config show`: the effective settings of every settings class, secrets masked.

Secrets are never printed: `SecretStr` fields, fields whose name says they hold a secret, and
passwords inside URLs all show as `**********`. Each value says where it came from (`env`, a
`*_FILE` secrets `file`, or `default`), so a typo in a variable name shows up as a default
where a value was expected.
"""

from __future__ import annotations

import importlib
import json
import os
import re
from typing import Annotated, Any

import typer
from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from newsdesk.errors import NewsdeskError
from newsdesk.es_client import redact_url
from newsdesk.settings import env_name, is_secret, settings_error

MASK = "**********"
SETTINGS_CLASSES = (
    ("core", "newsdesk.settings", "Settings"),
    ("api", "newsdesk.api_common", "ApiSettings"),
    ("websub", "newsdesk.websub", "WebSubSettings"),
    ("polling", "newsdesk.polling", "PollSettings"),
    ("dead-letter", "newsdesk.deadletter", "RetrySettings"),
    ("archive", "newsdesk.archive", "ArchiveSettings"),
    ("operations", "flows.ops_settings", "OpsSettings"),
)
_SECRET_NAME = re.compile(r"password|passwd|secret|token|api_?key|credential", re.IGNORECASE)

config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


def masked(name: str, value: Any, *, secret: bool = False) -> Any:
    """`value` as JSON data with every secret in it replaced by `MASK`."""
    if value is None:
        return None
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, list | tuple | set):
        return [masked(name, v, secret=secret) for v in value]
    if isinstance(value, dict):
        return {k: masked(str(k), v, secret=secret) for k, v in value.items()}
    if secret or (isinstance(value, str) and _SECRET_NAME.search(name)):
        return MASK
    if isinstance(value, str) and "://" in value:
        return redact_url(value)
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _source(settings_cls: type[BaseSettings], field: str, environ: dict[str, str]) -> str:
    var = env_name(settings_cls, field)
    if environ.get(var):
        return "env"
    if environ.get(f"{var}_FILE"):
        return "file"
    return "default"


def effective_settings() -> tuple[dict[str, dict[str, dict[str, Any]]], list[str]]:
    """Per group: field -> {env, value (masked), source}; plus the problems found."""
    environ = {k.upper(): v for k, v in os.environ.items()}
    groups: dict[str, dict[str, dict[str, Any]]] = {}
    problems: list[str] = []
    for group, module_name, class_name in SETTINGS_CLASSES:
        try:
            settings_cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):
            continue
        try:
            instance = settings_cls()
        except ValidationError as exc:
            problems.append(f"{group}: {settings_error(settings_cls, exc)}")
            continue
        except NewsdeskError as exc:
            problems.append(f"{group}: {exc}")
            continue
        rows: dict[str, dict[str, Any]] = {}
        for field, info in settings_cls.model_fields.items():
            rows[field] = {
                "env": env_name(settings_cls, field),
                "value": masked(field, getattr(instance, field), secret=is_secret(info.annotation)),
                "source": _source(settings_cls, field, environ),
            }
        groups[group] = rows
    return groups, problems


@config_app.command("show")
def show(
    as_json: Annotated[bool, typer.Option("--json", help="Print the settings as JSON.")] = False,
) -> None:
    """Print the effective settings (secrets masked) and where each value came from."""
    groups, problems = effective_settings()
    if as_json:
        print(json.dumps({"settings": groups, "problems": problems}, indent=2))
    else:
        for group, rows in groups.items():
            table = Table(title=group, title_justify="left")
            table.add_column("variable", no_wrap=True)
            table.add_column("value", overflow="fold")
            table.add_column("from", no_wrap=True)
            for row in rows.values():
                value = row["value"]
                shown = "(unset)" if value in (None, []) else json.dumps(value, ensure_ascii=False)
                table.add_row(row["env"], escape(shown.strip('"')), row["source"])
            console.print(table)
    for problem in problems:
        err_console.print(f"[bold red]error:[/] {escape(problem)}", soft_wrap=True)
    if problems:
        raise typer.Exit(2)
