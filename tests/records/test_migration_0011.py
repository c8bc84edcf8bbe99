"""Migration 0011 gives call_records exactly the callback columns models.py declares
(old rows read as inbound calls), and downgrades."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

import callcenter.records.models  # noqa: F401  (registers the tables)
from callcenter import migrate
from callcenter.db import create_engine
from tests.records.schema import model_diff

pytestmark = pytest.mark.db


async def test_callback_columns_match_the_model_and_downgrade(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)

        async with engine.connect() as conn:
            assert await conn.run_sync(model_diff, "call_records") == []
        await migrate.downgrade(engine, "0010")

        def columns(connection: Connection) -> set[str]:
            return {c["name"] for c in inspect(connection).get_columns("call_records")}

        async with engine.connect() as conn:
            left = await conn.run_sync(columns)
        assert {"direction", "kind", "callback_of"}.isdisjoint(left) and "disposition" in left
    finally:
        await engine.dispose()
