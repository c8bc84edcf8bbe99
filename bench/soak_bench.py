"""Memory per call: does the service keep something for every call it sees?

The service's parts that follow the PBX (live state, record builder and writer, the
day book, the seat watcher, the callback worklist) run in this process against pbxsim
as a process (as `serve --demo` runs it: demo traffic, 60 seats, callers routed by the
dialplan's fallback) at SPEED times real time, on a clock that runs as fast. The Python
heap (tracemalloc's current size, which unlike RSS does not depend on the allocator
giving pages back, nor on SQLite's page cache) is sampled against the number of finished
calls. After a warm-up of an hour of traffic (queues filled, every seat has taken
calls, the memories bounded by time at their steady size) the least-squares slope is
the growth per 1,000 calls, which must be near 0 (TRANSIENT_FILES are left out).

The day book legitimately keeps one entry per finished call of the current city day
(the day's figures are sums over them; `callcenter.records.today`); it is emptied when
the day turns. A simulated week cannot run in the bench's two minutes, so its share is
taken out of the slope: the calls it holds times the bytes of one entry, measured apart
on a day of synthetic calls (`soak_daybook_bytes_per_call`).
"""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
import socket
import statistics
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.fanout import FanOut
from ami.node import NodeConfig, PbxNode
from bench.records_bench import DAY0, day_of_calls
from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.live.live_state import LiveState
from callcenter.records.today import DayBook
from callcenter.records.wiring import build_records
from queues.wiring import build_seats

SEATS = 60
SPEED = 60.0
CALLS_PER_HOUR = 900.0
#: an hour of simulated traffic: the builder's memory of ended calls (one hour) is full
WARMUP_CALLS = 900
RUN_S = 60.0
SAMPLE_EVERY_S = 4.0
#: not memory kept per call: the source lines a logged traceback reads (once per file),
#: and the rows of a database query in flight on aiosqlite's thread at the sample
TRANSIENT_FILES = ("/linecache.py", "/aiosqlite/core.py")


@dataclass(frozen=True)
class Sample:
    calls: int
    heap: int
    daybook: int


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def slope_per_1k(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over xs, per 1,000 of x."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return 1000 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def daybook_bytes_per_call(n: int = 5_000) -> float:
    """What one finished call of the day costs the day book (tracemalloc, on a day of
    synthetic calls observed by a fresh book)."""
    calls = day_of_calls(n)
    book = DayBook(cast(async_sessionmaker[AsyncSession], None), lambda: float(DAY0 + 86_000))
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    for call in calls:
        book.observe(call)
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    if not tracing:
        tracemalloc.stop()
    return grown / max(1, book.held)


def _sample(
    calls: int, day: DayBook, per_entry: float, snapshots: list[tracemalloc.Snapshot]
) -> Sample:
    gc.collect()
    snapshot = tracemalloc.take_snapshot()
    snapshots[1:] = [snapshot]
    transient = sum(
        stat.size
        for stat in snapshot.statistics("filename")
        if stat.traceback[0].filename.endswith(TRANSIENT_FILES)
    )
    heap = tracemalloc.get_traced_memory()[0] - transient
    return Sample(calls, heap, int(day.held * per_entry))


async def _start_pbxsim(port: int, secret: str) -> asyncio.subprocess.Process:
    """The simulator as a process (as `serve --demo` runs it): its own heap is not ours."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pbxsim",
        "--ami-port",
        str(port),
        "--agi-url",
        f"agi://127.0.0.1:{_free_port()}",  # no IVR: the dialplan's fallback routing
        "--seats",
        str(SEATS),
        "--calls-per-hour",
        str(CALLS_PER_HOUR),
        "--speed",
        str(SPEED),
        "--log-level",
        "ERROR",
        env={**os.environ, "PBXSIM_AMI_SECRET": secret, "PBXSIM_PARENT_PID": str(os.getpid())},
    )
    for _ in range(300):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return proc
    proc.kill()
    raise RuntimeError("pbxsim did not open its AMI port")


async def _soak(
    tmp: Path, run_s: float, snapshots: list[tracemalloc.Snapshot], verbose: bool
) -> list[Sample]:
    port, secret = _free_port(), secrets.token_urlsafe(12)
    pbx = await _start_pbxsim(port, secret)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp / 'soak.db'}")
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    # the service's clock runs with the simulator's: an hour of calls is an hour
    started = time.time()
    live = LiveState(lambda: started + (time.time() - started) * SPEED)
    records = build_records(sessions, live, tmp / "spool", flush_every_s=0.5)
    seats = build_seats(
        sessions,
        live,
        lambda: datetime.fromtimestamp(live.clock(), UTC),
        ["break"],
        callback_tasks=records.callback_tasks,
        history=records.history,
    )
    node = PbxNode(
        NodeConfig("pbx1", "127.0.0.1", port, "callcenter", secret, action_timeout=10.0),
        FanOut([live, records.listener]),
    )
    samples: list[Sample] = []
    per_entry = daybook_bytes_per_call()
    tracemalloc.start()  # from the start: what warm-up allocated is counted, then freed
    node.start()
    loops = (records.writer.run(), records.day.run(), seats.watcher.run(), seats.callbacks.run())
    tasks = [asyncio.create_task(loop) for loop in loops]
    try:
        await asyncio.wait_for(live.synced.wait(), 30)
        builder = records.builder
        while builder.finished < WARMUP_CALLS:  # noqa: ASYNC110 (a counter, polled)
            await asyncio.sleep(0.5)
        began = time.monotonic()
        while time.monotonic() - began < run_s:
            await asyncio.sleep(SAMPLE_EVERY_S)
            samples.append(_sample(builder.finished, records.day, per_entry, snapshots))
            if verbose:
                print(samples[-1], flush=True)
    finally:
        tracemalloc.stop()
        pbx.terminate()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await node.stop()
        records.writer.spool.close()
        await engine.dispose()
        await pbx.wait()
    return samples


def soak(run_s: float = RUN_S, top: int = 0) -> dict[str, float]:
    """`top`: print the allocation sites that grew most between the first and the
    last sample (to find what is kept per call)."""
    snapshots: list[tracemalloc.Snapshot] = []
    with tempfile.TemporaryDirectory() as tmp:
        samples = asyncio.run(_soak(Path(tmp), run_s, snapshots, top > 0))
    if top and len(snapshots) == 2:
        grown = snapshots[1].compare_to(snapshots[0], "traceback")
        for stat in grown[:top]:
            print(f"{stat.size_diff / 1024:8.1f} KiB {stat.count_diff:+7d}")
            for line in stat.traceback.format()[-8:]:
                print("    " + line)
    calls = [float(s.calls) for s in samples]
    heap = [float(s.heap - s.daybook) for s in samples]
    daybook = [float(s.daybook) for s in samples]
    return {
        "soak_kb_per_1k_calls": round(slope_per_1k(calls, heap) / 1024, 1),
        "soak_daybook_bytes_per_call": round(slope_per_1k(calls, daybook) / 1000, 1),
        "soak_calls": calls[-1] - calls[0],
    }


def bench_soak() -> dict[str, float]:
    return soak()


if __name__ == "__main__":
    import sys

    print(soak(float(sys.argv[1]) if len(sys.argv) > 1 else RUN_S, top=15))
