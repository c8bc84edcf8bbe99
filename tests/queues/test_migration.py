"""Migration 0005 creates exactly what queues/models.py declares, and downgrades; 0013
retires seat_calls (a seat's calls are its call records) and puts it back on the way
down."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

import queues.models  # noqa: F401  (registers the tables)
from callcenter import migrate
from callcenter.db import create_engine
from callcenter.models import Base

pytestmark = pytest.mark.db
OURS = ("seats", "seat_sessions", "callback_tasks")


async def test_migration_matches_models_and_downgrades(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)

        def diff(connection: Connection) -> list[object]:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return [
                d
                for d in compare_metadata(context, Base.metadata)
                if any(t in repr(d) for t in OURS)
            ]

        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
        await migrate.downgrade(engine, "0004")
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        assert not set(OURS) & set(tables)
    finally:
        await engine.dispose()


async def test_0013_retires_seat_calls_and_downgrades(database_url: str) -> None:
    engine = create_engine(database_url)

    def shape(connection: Connection) -> tuple[set[str], set[str]]:
        inspector = inspect(connection)
        indexes = {i["name"] for i in inspector.get_indexes("call_records") if i["name"]}
        return set(inspector.get_table_names()), indexes

    try:
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            tables, indexes = await conn.run_sync(shape)
        assert "seat_calls" not in tables and "ix_call_records_caller" not in indexes
        assert {"ix_call_records_caller_start", "ix_call_records_seat_ended"} <= indexes
        await migrate.downgrade(engine, "0011")
        async with engine.connect() as conn:
            tables, indexes = await conn.run_sync(shape)
        assert "seat_calls" in tables and "ix_call_records_caller" in indexes
        assert not {"ix_call_records_caller_start", "ix_call_records_seat_ended"} & indexes
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
