"""Figure 5 on its own: the re-poll needs a first ingest to compare with, so this runs
`bench.end_to_end` (first ingest, then the re-poll) without the figure-2 side measurement.

    uv run python -m bench.repoll --articles 10000
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from bench import end_to_end


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    argv = list(argv) if argv is not None else sys.argv[1:]
    return end_to_end.main(["--pool-pages", "0", *argv])


if __name__ == "__main__":
    main()
