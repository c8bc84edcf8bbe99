"""Migration 0019 adds call_records' call_source and call_source_ref as models.py
declares them (with server defaults: rows written before read direct, no reference),
and downgrades."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from callcenter import migrate
from callcenter.db import create_engine
from tests.records.schema import model_diff

pytestmark = pytest.mark.db


def columns(connection: Connection) -> set[str]:
    return {c["name"] for c in inspect(connection).get_columns("call_records")}


def server_defaults(connection: Connection) -> dict[str, str | None]:
    """What a row written before 0019 (or by an older instance) reads as."""
    return {
        c["name"]: c.get("default")
        for c in inspect(connection).get_columns("call_records")
        if c["name"].startswith("call_source")
    }


async def test_call_source_columns_match_the_model_and_downgrade(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine, "0018")
        async with engine.connect() as conn:
            assert "call_source" not in await conn.run_sync(columns)
        await migrate.upgrade(engine, "0019")
        async with engine.connect() as conn:
            assert await conn.run_sync(model_diff, "call_source") == []
            defaults = await conn.run_sync(server_defaults)
            assert "direct" in defaults["call_source"] and defaults["call_source_ref"] is not None
        await migrate.downgrade(engine, "0018")
        async with engine.connect() as conn:
            assert "call_source" not in await conn.run_sync(columns)
    finally:
        await engine.dispose()
