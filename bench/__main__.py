"""`python -m bench [FILTER ...]`: run the benchmarks whose name contains a FILTER."""

from __future__ import annotations

import sys

from rich.console import Console

from bench.registry import BENCHES, TARGETS
from bench.runner import run, unmatched


def main(argv: list[str]) -> int:
    """0 when the benchmarks ran; 2, with what was wrong, for an unknown filter (a run
    of nothing would overwrite latest.json with an empty report)."""
    if any(arg in ("-h", "--help") for arg in argv):
        print(__doc__)
        print("benchmarks: " + ", ".join(BENCHES))
        return 0
    missing = unmatched(BENCHES, argv)
    if missing:
        print(
            f"bench: no benchmark name contains {', '.join(map(repr, missing))}; "
            f"the names: {', '.join(BENCHES)}",
            file=sys.stderr,
        )
        return 2
    run(BENCHES, TARGETS, argv or None, Console())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
