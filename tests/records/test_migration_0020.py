"""Migration 0020 adds the partial index of callback records as models.py declares it,
the KPI query's callback question reads it on PostgreSQL, and it downgrades."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from callcenter import migrate
from callcenter.db import create_engine
from callcenter.records.kpi import called_back_since
from callcenter.records.models import CallRecord
from tests.records.schema import model_diff

pytestmark = pytest.mark.db

INDEX = "ix_call_records_callback_start"


def indexes(connection: Connection) -> set[str]:
    return {i["name"] for i in inspect(connection).get_indexes("call_records") if i["name"]}


async def test_callback_index_matches_the_model_and_downgrades(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine, "0019")
        async with engine.connect() as conn:
            assert INDEX not in await conn.run_sync(indexes)
        await migrate.upgrade(engine, "0020")
        async with engine.connect() as conn:
            assert INDEX in await conn.run_sync(indexes)
            assert await conn.run_sync(model_diff, INDEX) == []
            if conn.dialect.name == "postgresql":
                (definition,) = (
                    await conn.execute(
                        text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"), {"n": INDEX}
                    )
                ).one()
                assert "WHERE" in definition and "'callback'" in definition
                # the planner picks it for the reached callbacks, even on an empty table
                query = select(CallRecord.linkedid).where(called_back_since(1_700_000_000))
                sql = query.compile(
                    dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
                )
                await conn.execute(text("SET enable_seqscan = off"))
                plan = "\n".join(row[0] for row in await conn.execute(text(f"EXPLAIN {sql}")))
                assert INDEX in plan, plan
        await migrate.downgrade(engine, "0019")
        async with engine.connect() as conn:
            assert INDEX not in await conn.run_sync(indexes)
    finally:
        await engine.dispose()
