"""Call records: write rate, a day's KPI query, and the memory of a 1-million-row export.

All three run on PostgreSQL (CALLCENTER_TEST_POSTGRES_URL; a throw-away database is
created and dropped). Without PostgreSQL they run on SQLite and report under
`*_sqlite*` keys, which have no target.

- `cdr_write_per_s`: finished calls through the production path (spool append, seal,
  batched upsert of 500 with the rating/callback/unit enrichment), 20,000 calls. On
  PostgreSQL a batch is one INSERT of column arrays (callcenter/records/pg_batch.py).
- `kpi_day_query_ms`: the median of the day's KPIs per queue and per 15 min, and the
  day's totals, over those 20,000 calls (two SQL aggregates), once PostgreSQL has
  statistics for the table, as autovacuum gives it within a minute of such a write in
  production. `kpi_day_query_unanalyzed_ms` (no target) is the same right after the
  write, before any statistics (the planner then guesses a handful of rows and picks
  another plan); both are reported because either state occurs in production.
- `today_view_p99_ms`: the city day so far for every queue, the centre, the hours and
  the seats (callcenter/records/today.py `DayBook.view`), with those 20,000 calls read
  back from the database and 1,500 seats' calls in progress (1,350 at a seat, 150
  waiting): the 99th percentile of 300 views. `today_refresh_ms` (no target) is one
  read of the day back from the database, which each instance does every 15 s.
- `export_1m_rows_mb`: peak RSS (VmHWM) of a fresh process streaming 1,000,000 records
  through the export's query and CSV writer (the rows are generated in SQL, not in
  Python).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.records import kpi
from callcenter.records.builder import FinishedCall, RecordDraft
from callcenter.records.store import RecordStore, RecordWriter
from callcenter.records.today import DayBook

POSTGRES_ADMIN_URL = os.environ.get(
    "CALLCENTER_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
DAY_CALLS = 20_000
EXPORT_ROWS = 1_000_000
DAY0 = 1_795_104_000  # a city day (00:00 +08:00)
QUEUES = ["hotline-general", "hotline-housing", "hotline-market", "hotline-health"]


def day_of_calls(n: int = DAY_CALLS, seed: int = 7) -> list[FinishedCall]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        started = DAY0 + rng.uniform(0, 86400)
        answered = rng.random() < 0.9
        wait = rng.expovariate(1 / 12)
        out.append(
            FinishedCall(
                node="pbx1",
                linkedid=f"{int(started)}.{i}",
                started_at=started,
                ended_at=started + wait + (240 if answered else 0),
                caller=f"139{rng.randrange(10**8):08d}",
                dialed="12345",
                unit="",
                confidential=False,
                ivr_keys="1",
                prompts=["hotline/welcome"],
                queues=[rng.choice(QUEUES)],
                queue_exit="answered" if answered else "abandoned",
                wait_s=round(wait, 1),
                rings=[
                    {
                        "queue": "hotline-general",
                        "interface": "PJSIP/1001",
                        "seat": "1001",
                        "at": 3.0,
                        "ring_s": 2.0,
                        "outcome": "answered" if answered else "cancelled",
                    }
                ],
                agent="PJSIP/1001" if answered else "",
                seat=f"{1001 + i % 60}" if answered else "",
                talk_s=240.0 if answered else 0.0,
                wrapup_s=10.0 if answered else 0.0,
                transfers=[],
                hangup_by="agent" if answered else "caller",
                disposition="answered" if answered else "abandoned",
                fallback=False,
                recording="",
                timeline=[[0.0, "start", "12345"], [1.0, "queue_join", "q"], [wait, "end", ""]],
                rating=rng.choice((1, 1, 2, 3, None)),
            )
        )
    return out


EXPORT_CHILD = """
import asyncio, csv, io, resource, sys
from callcenter.db import create_engine
from callcenter.db import session_factory
from callcenter.records import query as q

async def main(url):
    engine = create_engine(url)
    rows = 0
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    async with session_factory(engine)() as session:
        async for chunk in q.stream_rows(session, q.CallFilter()):
            writer.writerows(chunk)
            rows += len(chunk)
            buffer.seek(0); buffer.truncate()
    await engine.dispose()
    print(rows, peak_mb())

def peak_mb():
    # VmHWM: this program's own high-water mark. ru_maxrss is not: Linux carries the
    # forking parent's peak across exec, so after the other benches it reported the
    # bench runner's 300 MB instead of this export's.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

asyncio.run(main(sys.argv[1]))
"""

FILL_POSTGRES = """
INSERT INTO call_records
SELECT 'pbx1', 'x' || g, to_timestamp(:day0 + g % 86400), :day0 + g % 86400,
       to_timestamp(:day0 + g % 86400 + 200), '12345', '', '', '', '139' || lpad(g::text, 8, '0'),
       false, '1', '[]', 'hotline-general', '["hotline-general"]', 'answered', 12.5, '[]',
       'PJSIP/1001', '1001', 240, 10, '[]', 'agent', 'answered', false, 1, '',
       '[[0, "start", "12345"]]'
FROM generate_series(1, :n) AS g
"""

FILL_SQLITE = """
WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < :n)
INSERT INTO call_records
SELECT 'pbx1', 'x' || i, datetime(:day0 + i % 86400, 'unixepoch'), :day0 + i % 86400,
       datetime(:day0 + i % 86400 + 200, 'unixepoch'), '12345', '', '', '',
       '139' || substr('00000000' || i, -8), 0, '1', '[]', 'hotline-general',
       '["hotline-general"]', 'answered', 12.5, '[]', 'PJSIP/1001', '1001', 240, 10, '[]',
       'agent', 'answered', 0, 1, '', '[[0, "start", "12345"]]'
FROM g
"""


async def _postgres() -> tuple[str, Any, str] | None:
    try:
        import asyncpg  # type: ignore[import-untyped]
    except ImportError:
        return None
    dsn = POSTGRES_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://", 1)
    try:
        admin = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError):
        return None
    name = f"cc_bench_{uuid.uuid4().hex[:10]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    return f"{base}/{name}", admin, name


def _in_progress(now: float, seats: int = 1500, waiting: int = 150) -> list[RecordDraft]:
    """The floor at `now`: most seats on a call, a queue of callers waiting."""
    rng = random.Random(11)
    drafts = []
    for i in range(seats):
        started = now - rng.uniform(20, 600)
        draft = RecordDraft("pbx1", f"live-{i}", started, caller=f"139{i:08d}")
        queue = QUEUES[i % len(QUEUES)]
        draft.queues, draft.in_queue = [queue], queue
        if i >= waiting:
            draft.in_queue, draft.queue_exit = None, "answered"
            draft.wait_s = rng.expovariate(1 / 12)
            draft.agent, draft.seat = f"PJSIP/{1000 + i}", str(1000 + i)
            draft.answered_at = started + draft.wait_s
        drafts.append(draft)
    return drafts


async def _today_view(sessions: async_sessionmaker[AsyncSession]) -> tuple[float, float]:
    now = DAY0 + 86000.0
    drafts = _in_progress(now)
    book = DayBook(sessions, lambda: now, lambda: drafts)
    t0 = time.perf_counter()
    read = await book.refresh()
    refresh_ms = (time.perf_counter() - t0) * 1000
    if read != DAY_CALLS:
        raise RuntimeError(f"the day read back {read} calls, expected {DAY_CALLS}")
    timings = []
    for _ in range(300):
        t0 = time.perf_counter()
        view = book.view()
        timings.append(time.perf_counter() - t0)
    if view.in_progress != len(drafts):
        raise RuntimeError(f"{view.in_progress} calls in progress counted, not {len(drafts)}")
    timings.sort()
    return timings[int(len(timings) * 0.99) - 1] * 1000, refresh_ms


async def _write_and_query(url: str, spool: Path) -> tuple[float, float, float, float, float]:
    engine = create_engine(url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    calls = day_of_calls()
    writer = RecordWriter(RecordStore(sessions), spool, batch_size=500)
    t0 = time.perf_counter()
    for i, record in enumerate(calls, 1):
        writer.add(record)
        if i % 500 == 0:
            await writer.flush()
    await writer.flush()
    write_s = time.perf_counter() - t0
    writer.spool.close()
    unanalyzed_ms = await _day_query_ms(sessions)
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE call_records"))
    query_ms = await _day_query_ms(sessions)
    view_ms, refresh_ms = await _today_view(sessions)
    await engine.dispose()
    return len(calls) / write_s, query_ms, unanalyzed_ms, view_ms, refresh_ms


async def _day_query_ms(sessions: async_sessionmaker[AsyncSession]) -> float:
    timings = []
    for _ in range(7):
        t0 = time.perf_counter()
        async with sessions() as session:
            await kpi.compute(session, DAY0, DAY0 + 86400, "queue", "15min")
            await kpi.compute(session, DAY0, DAY0 + 86400)
        timings.append(time.perf_counter() - t0)
    return statistics.median(timings) * 1000


async def _fill_export(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM call_records"))
        fill = FILL_POSTGRES if engine.dialect.name == "postgresql" else FILL_SQLITE
        await conn.execute(text(fill), {"n": EXPORT_ROWS, "day0": DAY0})
    await engine.dispose()


def _export_peak_mb(url: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", EXPORT_CHILD, url], capture_output=True, text=True, check=True
    )
    rows, peak = done.stdout.split()
    if int(rows) != EXPORT_ROWS:
        raise RuntimeError(f"export streamed {rows} rows, expected {EXPORT_ROWS}")
    return float(peak)


async def _run() -> dict[str, float]:
    pg = await _postgres()
    with tempfile.TemporaryDirectory() as tmp:
        if pg is not None:
            url, admin, name = pg
            suffix = ""
        else:
            url, admin, name = f"sqlite+aiosqlite:///{tmp}/bench.db", None, ""
            suffix = "_sqlite"
        try:
            per_s, query_ms, unanalyzed_ms, view_ms, refresh_ms = await _write_and_query(
                url, Path(tmp) / "spool"
            )
            await _fill_export(url)
            peak = await asyncio.to_thread(_export_peak_mb, url)
        finally:
            if admin is not None:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.close()
    return {
        f"cdr_write{suffix}_per_s": round(per_s, 1),
        f"kpi_day_query{suffix}_ms": round(query_ms, 2),
        f"kpi_day_query_unanalyzed{suffix}_ms": round(unanalyzed_ms, 2),
        f"today_view_p99{suffix}_ms": round(view_ms, 2),
        f"today_refresh{suffix}_ms": round(refresh_ms, 1),
        f"export_1m_rows{suffix}_mb": round(peak, 1),
    }


def bench_records() -> dict[str, float]:
    return asyncio.run(_run())
