"""Where an ingest process's Python time goes, from `py-spy record --gil --format raw`.

With `--gil` py-spy samples only the thread that holds the GIL, so the samples are the time
the process spends running Python (and C called with the GIL held) on any of its threads;
divided by the wall time they give its GIL occupancy, which is its ceiling: near 100%, the
flow process itself is the bottleneck and the extraction workers wait for it.

Each sample is charged to the innermost frame that is ours (`flows/`, `newsdesk/`,
`extractors/`) or Prefect's. Prefect's when Prefect code is nearer the leaf than ours (task and
flow run bookkeeping, events, lease renewal, result handling: what issue 7 calls Prefect
bookkeeping); otherwise the pipeline stage it runs under (a `newsdesk.ingest` function, or
the threads `fetch_pages` fetches on); otherwise "other of ours" (the flow's glue). Within
each, the library at the leaf says what kind of work it is (warcio: the archive, httpcore:
the network, pydantic: models).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^():]+)(?::\d+)?\)$")
_OURS = ("flows/", "newsdesk/", "extractors/")
STAGES = (
    "poll_sources",
    "record_polls",
    "dedupe_entries",
    "split_known",
    "fetch_pages",
    "extract_pages",
    "index_articles",
    "record_outcomes",
)
"""The `newsdesk.ingest` functions that the flow's tasks call: the pipeline's own work."""
PREFECT = "Prefect"
FETCH_THREADS = "fetch_pages (its fetching threads)"
GLUE = "other of ours"
OTHER = "outside both"


@dataclass
class Profile:
    samples: int = 0
    by_charge: Counter[str] = field(default_factory=Counter)
    leaves: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))


def _frames(stack: list[str]) -> list[tuple[str, str]]:
    return [(m["func"], m["file"]) for m in map(_FRAME.match, stack) if m]


def charge(frames: list[tuple[str, str]]) -> str:
    """The category of one stack (outermost frame first)."""
    for _, file in reversed(frames):
        if file.startswith("prefect/"):
            return PREFECT
        if file.startswith(_OURS):
            for func, outer in frames:
                if outer == "newsdesk/ingest.py" and func in STAGES:
                    return func
                if outer == "newsdesk/threadmap.py":
                    return FETCH_THREADS
            return GLUE
    return OTHER


def _library(file: str) -> str:
    top = file.split("/", 1)[0]
    return top if "/" in file else file.removesuffix(".py")


def read(path: Path) -> Profile:
    prof = Profile()
    for line in path.read_text().splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = _frames(stack.split(";"))
        if not frames:
            continue
        n = int(count)
        what = charge(frames)
        prof.samples += n
        prof.by_charge[what] += n
        prof.leaves[what][_library(frames[-1][1])] += n
    return prof


def rows(prof: Profile, wall: float, rate: float) -> list[list[str]]:
    """(charged to, share of the wall time, what its time is at the leaf), largest first."""
    total = max(1.0, wall * rate)
    out = [["all (GIL held by any thread)", f"{100 * prof.samples / total:.1f}%", ""]]
    for what, n in prof.by_charge.most_common():
        top = ", ".join(f"{lib} {100 * k / n:.0f}%" for lib, k in prof.leaves[what].most_common(3))
        out.append([what, f"{100 * n / total:.1f}%", top])
    return out


def prefect_share(prof: Profile, wall: float, rate: float) -> float:
    return prof.by_charge[PREFECT] / max(1.0, wall * rate)
