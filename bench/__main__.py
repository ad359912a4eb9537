"""Run the benchmarks; each prints its figures and appends them to bench/RESULTS.md.

    uv run --with newspaper4k --with news-please python -m bench all   # every figure
    uv run python -m bench NAME [options]   # one of: extraction, indexing, end_to_end,
                                            # repoll, memory, peers (see NAME's --help)

The peers (news-please, newspaper4k) exist only in that throw-away environment, never as
project dependencies; without them `peers` reports newsdesk and trafilatura alone."""

from __future__ import annotations

import importlib
import sys

NAMES = ("extraction", "indexing", "end_to_end", "repoll", "memory", "peers")


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    name, rest = argv[0].replace("-", "_"), argv[1:]
    if name == "all":
        for one in ("extraction", "indexing", "end_to_end", "memory", "peers"):
            importlib.import_module(f"bench.{one}").main(rest if one == "extraction" else [])
        return 0
    if name not in NAMES:
        print(f"unknown benchmark {argv[0]!r}; one of: all, {', '.join(NAMES)}", file=sys.stderr)
        return 2
    importlib.import_module(f"bench.{name}").main(rest)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
