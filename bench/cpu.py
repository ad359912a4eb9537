"""CPU seconds of the services a benchmark runs beside the code under test, from /proc.

On a machine of two cores the extraction workers share them with Elasticsearch, the Prefect
server and the synthetic site's server; what each of those used during a run says how much of
the machine was left for extraction (Linux only; elsewhere the figures are empty).
"""

from __future__ import annotations

import os
from pathlib import Path

SERVICES = {
    "Elasticsearch": "org.elasticsearch",
    "Prefect server": "prefect server start",
    "synthetic site server": "bench.site serve",
}
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(pid: str) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


def snapshot() -> dict[str, float]:
    """CPU seconds used so far by the processes of each service (by command line)."""
    used = dict.fromkeys(SERVICES, 0.0)
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            for name, marker in SERVICES.items():
                if marker in cmdline:
                    used[name] += _cpu_seconds(proc.name)
                    break
        except (OSError, IndexError, ValueError):
            continue
    return used


def since(before: dict[str, float]) -> dict[str, float]:
    now = snapshot()
    return {name: now[name] - before.get(name, 0.0) for name in now}
