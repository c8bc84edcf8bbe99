"""Migration 0019 adds call_records' call_source and call_source_ref as models.py
declares them (with server defaults: rows written before read direct, no reference),
and downgrades."""

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


def columns(connection: Connection) -> set[str]:
    return {c["name"] for c in inspect(connection).get_columns("call_records")}


def server_defaults(connection: Connection) -> dict[str, str | None]:
    """What a row written before 0019 (or by an older instance) reads as."""
    return {
        c["name"]: c.get("default")
        for c in inspect(connection).get_columns("call_records")
        if c["name"].startswith("call_source")
    }


def diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return [d for d in compare_metadata(context, Base.metadata) if "call_source" in repr(d)]


async def test_call_source_columns_match_the_model_and_downgrade(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine, "0018")
        async with engine.connect() as conn:
            assert "call_source" not in await conn.run_sync(columns)
        await migrate.upgrade(engine, "0019")
        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
            defaults = await conn.run_sync(server_defaults)
            assert "direct" in defaults["call_source"] and defaults["call_source_ref"] is not None
        await migrate.downgrade(engine, "0018")
        async with engine.connect() as conn:
            assert "call_source" not in await conn.run_sync(columns)
    finally:
        await engine.dispose()
