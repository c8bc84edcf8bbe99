"""Seats and sessions in the database; a seat's calls and talk time are its call
records' (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.legacy.queues import QueueCatalog
from callcenter.records.store import RecordStore
from queues.catalog import demo_skills, parse_skills
from queues.repository import SeatRepository
from tests.records.factory import call

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


async def test_provision_is_idempotent_and_grows(engine: AsyncEngine) -> None:
    repo = SeatRepository(session_factory(engine), Clock())
    skills = parse_skills("general:3,housing:5", QueueCatalog.default())
    first = await repo.provision(3, 1001, lambda _i: skills, "PJSIP/{extension}", "pbx1")
    assert first.added == ["1001", "1002", "1003"] and first.existing == []
    await repo.mark("1002", True, None)
    again = await repo.provision(5, 1001, demo_skills, "Local/{extension}@agents/n", "pbx1")
    assert again.added == ["1004", "1005"] and again.existing == ["1001", "1002", "1003"]
    seats = {s.id: s for s in await repo.seats()}
    assert seats["1002"].logged_in and seats["1002"].skills == {"general": 3, "housing": 5}
    assert seats["1004"].interface == "Local/1004@agents/n"
    assert seats["1004"].skills == demo_skills(3)
    with pytest.raises(ValueError, match="lacks"):
        await repo.provision(1, 2001, demo_skills, "PJSIP/1", "pbx1")


async def test_sessions_give_login_pause_calls_and_talk_time(engine: AsyncEngine) -> None:
    clock = Clock()
    repo = SeatRepository(session_factory(engine), clock)
    await repo.provision(2, 1001, demo_skills, "PJSIP/{extension}", "pbx1")
    await repo.mark("1001", True, None)
    clock.advance(30)
    await repo.mark("1001", True, "break")
    clock.advance(10)
    await repo.mark("1001", True, "meal")  # a new reason closes the break
    clock.advance(20)
    await repo.mark("1001", True, None)
    at = clock.now.timestamp()
    two = [
        call("1795.1", seat="1001", talk_s=90.0, started_at=at - 200),
        call("1795.2", seat="1001", talk_s=30.0, started_at=at - 120, queues=["hotline-housing"]),
    ]
    records = RecordStore(session_factory(engine))
    await records.upsert(two)
    await records.upsert(two[1:])  # the same call again (another instance, a replay)
    clock.advance(60)
    await repo.mark("1001", False, None)
    clock.advance(60)
    stats = await repo.stats(T0, clock.now)
    s = stats["1001"]
    assert s.login_s == 120 * 60
    assert s.pause_s == {"break": 600.0, "meal": 1200.0}
    assert (s.calls, s.talk_s) == (2, 120.0)
    assert "1002" not in stats
    # a period cutting the login in half; an open pause counts until the period's end
    await repo.mark("1002", True, "training")
    clock.advance(15)
    half = await repo.stats(T0 + timedelta(minutes=60), clock.now)
    assert half["1001"].login_s == 60 * 60 and half["1001"].pause_s == {}
    assert half["1002"].pause_s == {"training": 900.0} and half["1002"].login_s == 900.0
    # logout while paused closes both intervals
    await repo.mark("1002", False, None)
    clock.advance(15)
    later = await repo.stats(T0, clock.now, ["1002"])
    assert later["1002"].pause_s == {"training": 900.0}


async def test_a_seats_calls_and_talk_are_its_records(database_url: str) -> None:
    """Answered calls that ended in the period, whichever instance wrote them; a
    callback the seat placed, a call rung but not answered, one that ended before the
    period and another seat's are not its calls."""
    one, two = create_engine(database_url), create_engine(database_url)
    await migrate.upgrade(one)
    try:
        repo = SeatRepository(session_factory(one), Clock())
        at = T0.timestamp()
        await RecordStore(session_factory(one)).upsert(
            [
                call("1.1", seat="1001", talk_s=61.5, started_at=at + 60),
                call("1.2", seat="1001", talk_s=0.0, started_at=at - 100),  # ends in it
                call("1.3", seat="1001", talk_s=45.0, started_at=at - 130),  # ended before
                call("1.4", seat="1002", talk_s=12.0, started_at=at + 60),
                call(
                    "1.5",
                    seat="1001",
                    talk_s=30.0,
                    started_at=at + 300,
                    queues=[],
                    direction="outbound",
                    kind="callback",
                    callback_of="1.9",
                    disposition="reached",
                ),
                call(
                    "1.6",
                    seat="",
                    agent="",
                    talk_s=0.0,
                    started_at=at + 400,
                    disposition="abandoned",
                    rings=[{"interface": "PJSIP/1001", "outcome": "no_answer"}],
                ),
            ]
        )
        # another instance wrote this one
        await RecordStore(session_factory(two)).upsert(
            [call("2.1", node="pbx2", seat="1001", talk_s=100.0, started_at=at + 900)]
        )
        until = T0 + timedelta(hours=1)
        stats = await repo.stats(T0, until)
        assert (stats["1001"].calls, stats["1001"].talk_s) == (3, 161.5)
        assert (stats["1002"].calls, stats["1002"].talk_s) == (1, 12.0)
        only = await repo.stats(T0, until, ["1001"])
        assert set(only) == {"1001"} and only["1001"].calls == 3
        # the boundary: a call ending exactly at `until` belongs to the next period
        assert (await repo.stats(T0, T0 + timedelta(seconds=180)))["1001"].calls == 1
        shanghai = await repo.stats(
            T0.astimezone(timezone(timedelta(hours=8))), until, ["1001"]
        )  # the same instant written in another zone
        assert shanghai["1001"].calls == 3
    finally:
        await one.dispose()
        await two.dispose()
