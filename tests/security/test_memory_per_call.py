"""Medium item 11 of issue 15: memory must not grow with every call. What the service
keeps per finished call is bounded by time (the record builder's memory of ended calls,
against late and duplicated events) or by the city day (the day book), never by the
number of calls since start. The soak benchmark (`python -m bench soak`) measures the
whole; these tests hold the bounds one by one."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami import events as ev
from bench.soak_bench import slope_per_1k
from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.records import builder as builder_module
from callcenter.records import today
from callcenter.records.builder import ENDED_FOR_S, FinishedCall, RecordBuilder
from callcenter.records.store import RecordStore
from callcenter.records.today import DayBook
from tests.records.factory import DAY0, call
from tests.records.test_builder_cases import snap


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def one_call(builder: RecordBuilder, n: int) -> None:
    channel = dataclasses.replace(snap(), uniqueid=f"{n}.1", linkedid=f"{n}.1")
    builder.apply("pbx1", ev.Newchannel("Newchannel", {}, channel=channel))
    builder.apply("pbx1", ev.Hangup("Hangup", {}, channel=channel, cause=16))


def test_ended_calls_are_forgotten_after_an_hour_not_after_50000_calls() -> None:
    clock = Clock()
    done: list[FinishedCall] = []
    builder = RecordBuilder(clock, done.append)
    every_s = 10.0
    for n in range(2_000):  # five and a half hours of a call every 10 s
        one_call(builder, n)
        clock.now += every_s
    assert len(done) == 2_000
    assert builder.remembered_ended <= ENDED_FOR_S / every_s + 1
    assert not builder.open


def test_a_late_hangup_within_the_hour_opens_no_second_record() -> None:
    clock = Clock()
    done: list[FinishedCall] = []
    builder = RecordBuilder(clock, done.append)
    one_call(builder, 1)
    clock.now += ENDED_FOR_S - 60
    for n in range(2, 50):
        one_call(builder, n)
    late = dataclasses.replace(snap(), uniqueid="1.1", linkedid="1.1")
    builder.apply("pbx1", ev.Hangup("Hangup", {}, channel=late, cause=16))
    assert len(done) == 49 and not builder.open


def test_the_memory_of_ended_calls_is_capped_however_fast_calls_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(builder_module, "ENDED_MEMORY", 100)
    builder = RecordBuilder(Clock(), lambda _record: None)
    for n in range(1_000):  # all within one second
        one_call(builder, n)
    assert builder.remembered_ended == 100


def test_the_soak_slope_is_a_least_squares_fit_per_1000_calls() -> None:
    calls = [0.0, 1000.0, 2000.0, 3000.0]
    assert slope_per_1k(calls, [5.0, 7.0, 9.0, 11.0]) == pytest.approx(2.0)
    assert slope_per_1k(calls, [5.0, 5.0, 5.0, 5.0]) == 0.0
    assert slope_per_1k([1.0, 1.0], [3.0, 9.0]) == 0.0


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    yield session_factory(engine)
    await engine.dispose()


async def test_the_day_book_reads_the_day_back_in_batches(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A busy day is tens of thousands of rows, read every 15 s: never all at once."""
    batches: list[float] = []

    class Loop:
        @staticmethod
        async def sleep(delay: float) -> None:
            batches.append(delay)
            await asyncio.sleep(delay)

    monkeypatch.setattr(today, "REFRESH_BATCH", 7)
    monkeypatch.setattr(today, "asyncio", Loop)
    nine = DAY0 + 9 * 3600
    await RecordStore(sessions).upsert(
        [call(f"b{n}", started_at=nine + n * 10, wait_s=1.0) for n in range(50)]
    )
    book = DayBook(sessions, lambda: nine + 3600)
    assert await book.refresh() == 50
    assert book.held == 50
    assert len(batches) == 8  # ceil(50 / 7)
