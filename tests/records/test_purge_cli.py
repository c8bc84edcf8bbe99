"""`callcenter records purge`: retention by start time, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.process.cli import app
from callcenter.records.models import CallRecord
from callcenter.records.store import RecordStore
from tests.records.factory import call


async def _seed(url: str) -> None:
    engine = create_engine(url)
    await migrate.upgrade(engine)
    now = time.time()
    await RecordStore(session_factory(engine)).upsert(
        [call("old", started_at=now - 40 * 86400), call("new", started_at=now - 5 * 86400)]
    )
    await engine.dispose()


async def _left(url: str) -> list[str]:
    engine = create_engine(url)
    async with session_factory(engine)() as s:
        ids = list((await s.scalars(select(CallRecord.linkedid))).all())
    await engine.dispose()
    return ids


def test_purge_keeps_the_retention_period(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", database_url)
    monkeypatch.setenv("CALLCENTER_RECORDS_RETENTION_DAYS", "30")
    monkeypatch.chdir(tmp_path)
    asyncio.run(_seed(database_url))
    result = CliRunner().invoke(app, ["records", "purge"])
    assert result.exit_code == 0, result.output
    assert "purged 1 call records" in result.output
    assert asyncio.run(_left(database_url)) == ["new"]
    result = CliRunner().invoke(app, ["records", "purge", "--days", "1"])
    assert "purged 1 call records" in result.output
    assert asyncio.run(_left(database_url)) == []
