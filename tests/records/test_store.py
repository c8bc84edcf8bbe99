"""Records reach the database once, in batches, and survive a database outage through
the on-disk spool (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.records.models import CallbackRequest, CallRecord, SurveyResult
from callcenter.records.store import DialedUnit, RecordStore, RecordWriter
from tests.records.factory import call

UNREACHABLE = "postgresql+asyncpg://nobody@127.0.0.1:9/none"


async def count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(CallRecord)) or 0)


async def test_upsert_is_idempotent_and_enriched(database_url: str, tmp_path: Path) -> None:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    async with sessions() as s, s.begin():
        s.add(
            SurveyResult(
                uniqueid="a.1", rating=2, caller="", queue="", unit="", agent="", created_at=now
            )
        )
        s.add(
            CallbackRequest(
                uniqueid="c.1",
                caller="",
                dialed="",
                queue="",
                unit="",
                estimated_wait_s=0,
                created_at=now,
            )
        )
    routes = {"043262345678": DialedUnit("U042", "南关区", "merge")}
    writer = RecordWriter(RecordStore(sessions, routes.get), tmp_path / "spool", batch_size=2)
    records = [
        call("a.1", dialed="043262345678"),
        call("b.1"),
        call("c.1", disposition="abandoned", queue_exit="abandoned", agent="", seat=""),
    ]
    for record in records:
        writer.add(record)
    assert await writer.flush()
    for record in records:  # the same calls again (a replay, a second instance)
        writer.add(record)
    assert await writer.flush()
    assert await count(sessions) == 3
    async with sessions() as s:
        rows = {r.linkedid: r for r in (await s.scalars(select(CallRecord))).all()}
    assert rows["a.1"].rating == 2 and rows["a.1"].unit == "U042" and rows["a.1"].mode == "merge"
    assert rows["b.1"].rating is None and rows["b.1"].queue == "hotline-general"
    assert rows["c.1"].disposition == "callback_requested"
    assert not list((tmp_path / "spool").glob("sealed-*"))
    await engine.dispose()


async def test_database_down_spools_then_writes_once(database_url: str, tmp_path: Path) -> None:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    dead = create_engine(UNREACHABLE)
    store = RecordStore(session_factory(dead))
    writer = RecordWriter(store, tmp_path / "spool", batch_size=10)
    for i in range(25):
        writer.add(call(f"x.{i}"))
    assert not await writer.flush()
    assert not writer.database_ok
    for i in range(20, 40):  # traffic goes on; some calls repeat (duplicated events)
        writer.add(call(f"x.{i}"))
    assert not await writer.flush()
    assert len(writer.spool.sealed()) == 2

    # a new process over the same spool (the service restarted while the DB was down)
    writer.spool.close()
    revived = RecordWriter(RecordStore(sessions), tmp_path / "spool", batch_size=10)
    assert await revived.flush()
    assert await count(sessions) == 40
    assert revived.spool.sealed() == []
    await dead.dispose()
    await engine.dispose()


def test_torn_last_line_is_skipped_and_a_bad_line_is_named(tmp_path: Path) -> None:
    import json

    import pytest

    from callcenter.records.spool import Spool, SpoolError

    good = json.dumps(call("t.1").to_json())
    torn = tmp_path / "sealed-000000001.jsonl"
    torn.write_text(good + "\n" + good[:40], encoding="utf-8")
    assert [r.linkedid for r in Spool.read(torn)] == ["t.1"]
    bad = tmp_path / "sealed-000000002.jsonl"
    bad.write_text("{oops\n" + good + "\n", encoding="utf-8")
    with pytest.raises(SpoolError, match=r"sealed-000000002.jsonl:1"):
        list(Spool.read(bad))


async def test_metrics_show_the_spool_and_failures(tmp_path: Path) -> None:
    import time as clock

    from prometheus_client import CollectorRegistry, generate_latest

    from callcenter.live.live_state import LiveState
    from callcenter.records.metrics import register_records_metrics
    from callcenter.records.wiring import build_records

    dead = create_engine(UNREACHABLE)
    records = build_records(session_factory(dead), LiveState(clock.time), tmp_path / "spool")
    registry = CollectorRegistry()
    register_records_metrics(registry, records)
    records.writer.add(call("m.1"))
    assert not await records.writer.flush()
    text = generate_latest(registry).decode()
    assert "callcenter_records_spooled_files 1.0" in text
    assert "callcenter_records_write_failures_total 1.0" in text
    assert "callcenter_records_database_ok 0.0" in text
    assert "callcenter_records_write_lag_seconds " in text
    records.writer.spool.close()
    await dead.dispose()


async def test_write_lag_is_the_age_of_the_oldest_unwritten_call(
    database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    dead = create_engine(UNREACHABLE)
    now = [1000.0]
    writer = RecordWriter(
        RecordStore(session_factory(dead)), tmp_path / "spool", clock=lambda: now[0]
    )
    assert writer.write_lag_s() == 0.0
    writer.add(call("l.1"))
    now[0] += 2.0
    writer.add(call("l.2"))  # younger: the lag stays the oldest's age
    now[0] += 1.0
    assert writer.write_lag_s() == 3.0
    assert not await writer.flush()  # the database is away: sealed, still waiting
    now[0] += 4.0
    writer.add(call("l.3"))
    assert writer.write_lag_s() == 7.0
    writer.store.sessions = session_factory(engine)  # back
    assert await writer.flush()
    assert writer.write_lag_s() == 0.0
    # a new process over files left on disk counts them from its start
    writer.add(call("l.4"))
    writer.spool.seal()
    writer.spool.close()
    revived = RecordWriter(writer.store, tmp_path / "spool", clock=lambda: now[0])
    now[0] += 1.5
    assert revived.write_lag_s() == 1.5
    assert await revived.flush() and revived.write_lag_s() == 0.0
    revived.spool.close()
    await dead.dispose()
    await engine.dispose()
