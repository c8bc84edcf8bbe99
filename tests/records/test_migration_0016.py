"""Migration 0016 creates the call_intakes table models.py declares, and downgrades."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from callcenter import migrate
from callcenter.db import create_engine
from tests.records.schema import model_diff

pytestmark = pytest.mark.db


def tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_intake_table_matches_the_model_and_downgrades(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine, "0015")
        async with engine.connect() as conn:
            assert "call_intakes" not in await conn.run_sync(tables)
        await migrate.upgrade(engine, "0016")
        async with engine.connect() as conn:
            assert await conn.run_sync(model_diff, "call_intakes") == []
        await migrate.downgrade(engine, "0015")
        async with engine.connect() as conn:
            left = await conn.run_sync(tables)
        assert "call_intakes" not in left and "call_records" in left
    finally:
        await engine.dispose()
