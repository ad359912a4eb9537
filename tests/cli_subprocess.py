"""Run `python -m newsdesk.cli` as a real process, many cases at once, and judge its errors.

Each start-up imports the whole stack (seconds on a loaded machine), so a test module hands all
its cases to `run_batch` in one go and its tests then look up their own result.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Case:
    args: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 180.0


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment without any NEWSDESK_ variable, plus a private data dir."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("NEWSDESK_")}
    env["NEWSDESK_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _run(case: Case) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsdesk.cli", *case.args],
        env=dict(case.env),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=case.timeout,
        check=False,
    )


def run_batch(cases: Mapping[str, Case]) -> dict[str, subprocess.CompletedProcess[str]]:
    workers = max(2, min(len(cases), (os.cpu_count() or 2) * 2))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {name: pool.submit(_run, case) for name, case in cases.items()}
        return {name: future.result() for name, future in futures.items()}


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit code non-zero, no traceback, one line on stderr that contains every needle."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode != 0, proc
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert len(lines) == 1, proc.stderr
    message = lines[0]
    assert message.startswith("error: "), message
    for needle in needles:
        assert needle in message, message
    return message
