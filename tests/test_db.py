"""Schema migrations and the instance registry, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, text

from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.instances import InstanceRegistry

pytestmark = pytest.mark.db


async def test_upgrade_creates_schema_and_downgrade_removes_it(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        assert await migrate.current_revision(engine) is None
        await migrate.upgrade(engine)
        assert await migrate.current_revision(engine) == migrate.head_revision()
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        assert "service_instances" in tables
        await migrate.upgrade(engine)  # idempotent
        await migrate.downgrade(engine, "base")
        assert await migrate.current_revision(engine) is None
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        assert "service_instances" not in tables
    finally:
        await engine.dispose()


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_heartbeat_upserts_and_staleness(database_url: str) -> None:
    engine = create_engine(database_url)
    clock = FakeClock()
    try:
        await migrate.upgrade(engine)
        sessions = session_factory(engine)
        a = InstanceRegistry(sessions, clock, instance_id="a")
        b = InstanceRegistry(sessions, clock, instance_id="b")
        await a.heartbeat()
        await a.heartbeat()  # second beat updates, never duplicates
        await b.heartbeat()
        alive = await a.alive(timedelta(seconds=30))
        assert [i.instance_id for i in alive] == ["a", "b"]

        clock.now += timedelta(seconds=20)
        await b.heartbeat()
        clock.now += timedelta(seconds=15)  # a is now 35 s old, b 15 s
        assert [i.instance_id for i in await a.alive(timedelta(seconds=30))] == ["b"]

        await b.deregister()
        assert await a.alive(timedelta(seconds=30)) == []
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_postgresql_sessions_run_without_jit(database_url: str) -> None:
    """JIT compiles the day's KPI aggregate for 30-40 ms on every call (see db.py)."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SHOW jit"))).scalar_one() == "off"
    finally:
        await engine.dispose()
