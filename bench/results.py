"""What every benchmark records beside its figures, and how it appends them to RESULTS.md.

The machine is shared and noisy, so each entry carries the load average and CPU steal seen
during the run next to the date, `nproc` and the commit: a figure can then be told apart from
a later one, and a bad ratio from a busy machine.
"""

from __future__ import annotations

import os
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS = BENCH_DIR / "RESULTS.md"
OUT = BENCH_DIR / "out"
SECTION = "## Performance (issue 7: `python -m bench`)"


def git_hash() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def _cpu_ticks() -> tuple[int, int]:
    """(total, steal) jiffies from /proc/stat, or zeros off Linux."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0, 0
    ticks = [int(v) for v in fields]
    return sum(ticks), ticks[7] if len(ticks) > 7 else 0


@dataclass
class Machine:
    """The load this run shared the machine with, measured from start to `stop()`."""

    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    load_start: float = field(default_factory=lambda: os.getloadavg()[0])
    load_end: float = 0.0
    steal_pct: float = 0.0
    _ticks: tuple[int, int] = field(default_factory=_cpu_ticks)
    _t0: float = field(default_factory=time.monotonic)

    def stop(self) -> Machine:
        total, steal = _cpu_ticks()
        dt = total - self._ticks[0]
        self.steal_pct = 100.0 * (steal - self._ticks[1]) / dt if dt > 0 else 0.0
        self.load_end = os.getloadavg()[0]
        return self

    def line(self) -> str:
        return (
            f"{self.started:%Y-%m-%d %H:%M} UTC · nproc {os.cpu_count()} · commit {git_hash()} · "
            f"load average {self.load_start:.1f} → {self.load_end:.1f} · CPU steal "
            f"{self.steal_pct:.1f}%"
        )


def command(module: str, argv: Sequence[str]) -> str:
    return f"uv run python -m {module} {shlex.join(argv)}".strip()


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
        return str(value)

    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def append(title: str, body: str, path: Path | None = None) -> None:
    """Append one entry at the end of RESULTS.md (others' sections are never rewritten); the
    performance section header is added once."""
    path = path or RESULTS
    text = path.read_text("utf-8") if path.exists() else "# Benchmark results\n"
    entry = f"\n### {title}\n\n{body.strip()}\n"
    if SECTION not in text:
        entry = f"\n{SECTION}\n{entry}"
    with path.open("a", encoding="utf-8") as out:
        if not text.endswith("\n"):
            out.write("\n")
        out.write(entry)


def verdict(value: float, target: float, *, above: bool = True) -> str:
    met = value >= target if above else value < target
    return "**met**" if met else "**missed**"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def spin(n: int) -> float:
    """A fixed pure-Python workload: what one core does without our code or I/O in the way
    (here, in a module light enough for a spawned process to import at once)."""
    start = time.perf_counter()
    total = 0
    for i in range(n):
        total += i * i % 7
    return time.perf_counter() - start + 0 * total
