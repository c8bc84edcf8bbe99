"""Migration 0005 creates exactly what queues/models.py declares, and downgrades."""

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
OURS = ("seats", "seat_sessions", "seat_calls", "callback_tasks")


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
