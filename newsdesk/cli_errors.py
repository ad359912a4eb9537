"""How every `newsdesk` command reports a known problem: one line, exit code 2, no traceback."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer
from elasticsearch import ApiError, TransportError
from rich.console import Console
from rich.markup import escape

from newsdesk.errors import NewsdeskError
from newsdesk.settings import get_settings

err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Known problems print one line that names them and exit non-zero, without a traceback.

    Elasticsearch client errors become one line too (`es_client.explain`); `NEWSDESK_DEBUG=1`
    lets every error through with its traceback.
    """

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (NewsdeskError, ApiError, TransportError) as exc:
            if os.environ.get("NEWSDESK_DEBUG", "").lower() in ("1", "true", "yes"):
                raise
            if not isinstance(exc, NewsdeskError):
                from newsdesk.es_client import explain

                exc = explain(exc, get_settings())
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]
