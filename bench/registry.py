"""Which benchmarks exist and the targets their keys are held to."""

from __future__ import annotations

from bench.runner import Bench, Target

BENCHES: dict[str, Bench] = {}
TARGETS: dict[str, Target] = {}
