"""`python -m bench [FILTER ...]`: run the benchmarks whose name contains a FILTER."""

from __future__ import annotations

import sys

from rich.console import Console

from bench.registry import BENCHES, TARGETS
from bench.runner import run


def main() -> None:
    run(BENCHES, TARGETS, sys.argv[1:] or None, Console())


if __name__ == "__main__":
    main()
