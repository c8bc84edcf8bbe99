"""Migration 0012 gives call_records the `queued_after_s` column models.py declares
(nullable: records written before it say nothing about it), and downgrades."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

import callcenter.records.models  # noqa: F401  (registers the tables)
from callcenter import migrate
from callcenter.db import create_engine
from tests.records.schema import model_diff

pytestmark = pytest.mark.db


def columns(connection: Connection) -> set[str]:
    return {c["name"] for c in inspect(connection).get_columns("call_records")}


async def test_time_to_queue_column_matches_the_model_and_downgrades(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine, "0011")
        at = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO call_records (node, linkedid, started_at, start_epoch, ended_at,"
                    " dialed, unit, district, mode, caller, confidential, ivr_keys, prompts,"
                    " queue, queues, queue_exit, rings, agent, seat, talk_s, wrapup_s,"
                    " transfers, hangup_by, disposition, fallback, recording, timeline)"
                    " VALUES ('pbx1', 'old.1', :at, 0, :at, '', '', '', '', '', false, '',"
                    " '[]', '', '[]', '', '[]', '', '', 0, 0, '[]', '', 'ivr_only', false, '',"
                    " '[]')"
                ),
                {"at": at},
            )
        await migrate.upgrade(engine)

        async with engine.connect() as conn:
            assert await conn.run_sync(model_diff, "call_records") == []
            old = await conn.scalar(text("SELECT queued_after_s FROM call_records"))
        assert old is None
        await migrate.downgrade(engine, "0011")
        async with engine.connect() as conn:
            left = await conn.run_sync(columns)
        assert "queued_after_s" not in left and "callback_of" in left
    finally:
        await engine.dispose()
