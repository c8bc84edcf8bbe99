"""Migration 0011 gives call_records exactly the callback columns models.py declares
(old rows read as inbound calls), and downgrades."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

import callcenter.records.models  # noqa: F401  (registers the tables)
from callcenter import migrate
from callcenter.db import create_engine
from callcenter.models import Base

pytestmark = pytest.mark.db


async def test_callback_columns_match_the_model_and_downgrade(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)

        def diff(connection: Connection) -> list[object]:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return [
                d for d in compare_metadata(context, Base.metadata) if "call_records" in repr(d)
            ]

        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
        await migrate.downgrade(engine, "0010")

        def columns(connection: Connection) -> set[str]:
            return {c["name"] for c in inspect(connection).get_columns("call_records")}

        async with engine.connect() as conn:
            left = await conn.run_sync(columns)
        assert {"direction", "kind", "callback_of"}.isdisjoint(left) and "disposition" in left
    finally:
        await engine.dispose()
