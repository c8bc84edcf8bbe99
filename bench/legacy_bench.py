"""Legacy-number directory: importing the city file, a province-size import, and the
per-call routing lookup.

`legacy_import_280_s` runs on the embedded default (SQLite), `legacy_import_100k_s` on
PostgreSQL (the production database; CALLCENTER_TEST_POSTGRES_URL, a throw-away
database is created and dropped) — falling back to SQLite, reported under
`legacy_import_100k_sqlite_s`, when no PostgreSQL is reachable. Both time the whole
import: read and validate the CSV bytes, plan against the database, write.
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.legacy import csvfile
from callcenter.legacy.directory import Directory
from callcenter.legacy.queues import QueueCatalog
from callcenter.legacy.records import COLUMNS
from callcenter.legacy.repository import LegacyRepository

CITY_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "legacy_numbers.csv"
POSTGRES_ADMIN_URL = os.environ.get(
    "CALLCENTER_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
PROVINCE_NUMBERS = 100_000
#: the city plan's queues, which the synthetic province directory spreads numbers over
QUEUES = QueueCatalog.default().names
LOOKUPS = 200_000


def province_csv(n: int = PROVINCE_NUMBERS, seed: int = 1) -> bytes:
    """A synthetic province directory: n numbers of n/20 units in 13 cities, with the
    city file's mode mix (about 76 % merge, 19 % dock, 5 % retain)."""
    rng = random.Random(seed)
    lines = [",".join(COLUMNS)]
    for i in range(n):
        unit = i // 20
        area = f"04{31 + unit % 13:02d}"
        number = f"{area}6{i:07d}"
        mode = rng.choices(("merge", "dock", "retain"), (76, 19, 5))[0]
        transfer = number if mode != "merge" else ""
        lines.append(
            f"{number},P{unit:05d},单位{unit},区县{unit % 97},{mode},"
            f"{QUEUES[unit % len(QUEUES)]},{transfer},分机线路{i % 20}"
        )
    return ("\n".join(lines) + "\n").encode()


async def _timed_import(url: str, data: bytes) -> tuple[float, LegacyRepository, AsyncEngine]:
    engine = create_engine(url)
    await migrate.upgrade(engine)
    repo = LegacyRepository(session_factory(engine), lambda: datetime.now(UTC))
    t0 = time.perf_counter()
    parsed = csvfile.read(data, queues=QueueCatalog.default())
    if not parsed.ok:
        raise RuntimeError(f"bench file invalid: {parsed.errors[:3]}")
    result = await repo.import_records(parsed.records, actor="bench", reason="bench")
    elapsed = time.perf_counter() - t0
    if not result.applied:
        raise RuntimeError("bench import wrote nothing")
    return elapsed, repo, engine


def _lookup_us(directory: Directory, numbers: list[str]) -> float:
    now = datetime.now(UTC)
    rng = random.Random(7)
    # mostly old numbers as Asterisk's FILTER()ed DID, some unknown (the 12345 itself)
    dialed = [rng.choice(numbers) for _ in range(LOOKUPS - LOOKUPS // 10)]
    dialed += ["12345"] * (LOOKUPS // 10)
    rng.shuffle(dialed)
    route = directory.route
    t0 = time.perf_counter()
    for number in dialed:
        route(number, now)
    return (time.perf_counter() - t0) / len(dialed) * 1e6


async def _postgres_url() -> tuple[str, Any, str] | None:
    """A fresh PostgreSQL database: (url, admin connection, name), or None."""
    import asyncpg  # type: ignore[import-untyped]

    dsn = POSTGRES_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://", 1)
    try:
        admin = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError):
        return None
    name = f"cc_bench_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    return f"{POSTGRES_ADMIN_URL.rpartition('/')[0]}/{name}", admin, name


async def _run() -> dict[str, float]:
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        elapsed, _, engine = await _timed_import(url, CITY_CSV.read_bytes())
        out["legacy_import_280_s"] = round(elapsed, 3)
        await engine.dispose()

        big = province_csv()
        pg = await _postgres_url()
        key, url = "legacy_import_100k_sqlite_s", f"sqlite+aiosqlite:///{tmp}/big.db"
        if pg is not None:
            key, url = "legacy_import_100k_s", pg[0]
        try:
            elapsed, repo, engine = await _timed_import(url, big)
            out[key] = round(elapsed, 2)
            directory = Directory(repo, lambda: datetime.now(UTC))
            t0 = time.perf_counter()
            await directory.reload()
            out["legacy_reload_100k_s"] = round(time.perf_counter() - t0, 2)
            numbers = [r.number for r in await repo.records()]
            out["legacy_lookup_us"] = round(_lookup_us(directory, numbers), 3)
            await engine.dispose()
        finally:
            if pg is not None:
                _, admin, name = pg
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.close()
    return out


def bench_legacy_directory() -> dict[str, float]:
    return asyncio.run(_run())
