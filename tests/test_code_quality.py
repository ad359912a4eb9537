"""Lint, format and type checks run as part of the test command, so CI enforces them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    "args",
    [
        ("ruff", "check", "."),
        ("ruff", "format", "--check", "."),
        ("mypy",),
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_tool_passes(args: tuple[str, ...]) -> None:
    result = _run(*args)
    assert result.returncode == 0, result.stdout + result.stderr


def test_extractors_stay_pure() -> None:
    """extractors/ may not import network, index or orchestration code."""
    banned = ("httpx", "requests", "urllib3", "elasticsearch", "prefect", "socket")
    offenders = []
    for path in (ROOT / "extractors").rglob("*.py"):
        for lineno, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")):
                module = stripped.split()[1].split(".")[0]
                if module in banned:
                    offenders.append(f"{path.relative_to(ROOT)}:{lineno}: {stripped}")
    assert not offenders, offenders
