"""A real `prefect server` process with its own SQLite database under a home directory.

Prefect's default ephemeral mode starts a throw-away server per process (slow, it loses records
under load and never fires schedules), so tests and `newsdesk up` run this instead.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from newsdesk.errors import NewsdeskError


class PrefectServerError(NewsdeskError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(home: Path, api_url: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
            "DO_NOT_TRACK": "1",
        }
    )
    env.pop("PREFECT_API_URL", None)
    if api_url:
        env["PREFECT_UI_API_URL"] = api_url
    return env


def start(home: Path, port: int, *, log_file: Path | None = None) -> subprocess.Popen[bytes]:
    """Launch `prefect server start` in its own process group; does not wait."""
    home.mkdir(parents=True, exist_ok=True)
    log_path = log_file or home / "server.log"
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=server_env(home, f"http://127.0.0.1:{port}/api"),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def wait_healthy(
    api_url: str, proc: subprocess.Popen[bytes] | None = None, *, timeout: float = 180
) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise PrefectServerError(f"prefect server exited with code {proc.returncode}")
            try:
                if client.get(f"{api_url}/health").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
    raise PrefectServerError(f"prefect server at {api_url} not healthy after {timeout:.0f}s")


def stop(proc: subprocess.Popen[bytes], *, grace: float = 15) -> None:
    """SIGTERM the server's process group, then SIGKILL after `grace` seconds."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        proc.wait()


@contextmanager
def running(home: Path, port: int | None = None) -> Iterator[str]:
    """A healthy server for the duration of the block; yields its API URL."""
    port = port or free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    proc = start(home, port)
    try:
        wait_healthy(api_url, proc)
        yield api_url
    finally:
        stop(proc)


@contextmanager
def api(home: Path) -> Iterator[str]:
    """The Prefect API to run flows against: `PREFECT_API_URL` when set, else a real server
    whose database lives under `home` (so runs stay visible in the dashboard later), started
    for the duration of the block."""
    existing = os.environ.get("PREFECT_API_URL")
    if existing:
        yield existing
        return
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with running(home) as url, temporary_settings(updates={PREFECT_API_URL: url}):
        os.environ["PREFECT_API_URL"] = url
        try:
            yield url
        finally:
            from prefect.logging.handlers import APILogWorker

            APILogWorker.drain_all(timeout=10)
            os.environ.pop("PREFECT_API_URL", None)
