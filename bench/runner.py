"""Runs benchmark functions, writes JSON results and prints a readable table.

A benchmark is a function returning `{key: value}`; each key has a target (or none) in
TARGETS so the table can say pass/fail next to the number. Results of one run go to
`bench/results/<UTC time>.json` and `bench/results/latest.json`.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

Bench = Callable[[], dict[str, float]]
RESULTS = Path(__file__).with_name("results")


@dataclass(frozen=True)
class Target:
    op: str  # ">=" or "<="
    value: float
    unit: str

    def met(self, measured: float) -> bool:
        return measured >= self.value if self.op == ">=" else measured <= self.value


def unmatched(benches: dict[str, Bench], filters: list[str]) -> list[str]:
    """The filters no benchmark's name contains."""
    return [f for f in filters if not any(f in name for name in benches)]


def run(
    benches: dict[str, Bench], targets: dict[str, Target], only: list[str] | None, console: Console
) -> dict[str, object]:
    results: dict[str, float] = {}
    timings: dict[str, float] = {}
    for name, bench in benches.items():
        if only and not any(o in name for o in only):
            continue
        console.print(f"[bold]running[/bold] {name} ...")
        t0 = time.perf_counter()
        results.update(bench())
        timings[name] = round(time.perf_counter() - t0, 2)
    report: dict[str, object] = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "results": results,
        "wall_s": timings,
    }
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for path in (RESULTS / f"{stamp}.json", RESULTS / "latest.json"):
        path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    table = Table(title="benchmarks")
    for col in ("key", "value", "target", "ok"):
        table.add_column(col)
    for key, value in results.items():
        target = targets.get(key)
        table.add_row(
            key,
            f"{value:,.4g}",
            f"{target.op} {target.value:,} {target.unit}" if target else "",
            ("yes" if target.met(value) else "[red]NO[/red]") if target else "",
        )
    console.print(table)
    console.print(f"written to {RESULTS / 'latest.json'}")
    return report
