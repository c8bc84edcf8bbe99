"""Repeat callers are recognised from what every instance shares: the call records
(finished calls) and the PBX's calls in progress (the live model). Two instances on one
database, and one instance after a restart, decide alike (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.live.live_state import LiveState
from callcenter.live.node_state import Call
from callcenter.records.history import SqlHistory
from callcenter.records.store import RecordStore
from queues.priority import CallerPriority, PriorityRules
from tests.records.factory import DAY0, call

RULES = PriorityRules(repeat_within_s=3600, repeat_priority=2)
NOW = DAY0 + 10 * 3600
GONE = "13900000001"  # rang 30 min ago, reached a queue
UNREACHABLE = "postgresql+asyncpg://nobody@127.0.0.1:9/none"


@pytest.fixture
async def engines(database_url: str) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """Two service instances' connections to one database."""
    one, two = create_engine(database_url), create_engine(database_url)
    await migrate.upgrade(one)
    yield one, two
    await one.dispose()
    await two.dispose()


def instance(engine: AsyncEngine, live: LiveState | None = None) -> CallerPriority:
    live = live if live is not None else LiveState(lambda: NOW)
    return CallerPriority(RULES, SqlHistory(session_factory(engine)), live)


async def test_instances_and_a_restart_decide_alike_from_the_records(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    one, two = engines
    # instance one wrote these records; instance two never saw the calls
    await RecordStore(session_factory(one)).upsert(
        [
            call("a.1", caller=GONE, started_at=NOW - 1800, disposition="abandoned"),
            call("b.1", caller="13900000002", started_at=NOW - 3601),  # before the window
            call("e.1", caller="anonymous", started_at=NOW - 60),
            call("c.1", caller="13900000003", started_at=NOW - 60, queues=[], agent="", seat=""),
            call(
                "d.1",
                caller="13900000004",
                started_at=NOW - 60,
                queues=[],
                direction="outbound",
                kind="callback",
                callback_of="x.1",
                disposition="reached",
            ),
        ]
    )
    first, second = instance(one), instance(two)
    restarted = instance(one)  # a new process: nothing carried over but the database
    for priority in (first, second, restarted):
        repeat = await priority.decide(GONE, "", NOW)
        assert (repeat.priority, repeat.reasons) == (2, ("repeat caller",))
        assert (await priority.decide("13900000002", "", NOW)).priority == 0
        assert (await priority.decide("13900000003", "", NOW)).priority == 0  # IVR only
        assert (await priority.decide("13900000004", "", NOW)).priority == 0  # we called
        assert (await priority.decide("", "", NOW)).priority == 0
        assert (await priority.decide("anonymous", "", NOW)).priority == 0  # nobody known


async def test_a_caller_on_a_call_now_is_a_repeat(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    one, _ = engines
    live = LiveState(lambda: NOW)
    calls = live.node_state("pbx1").calls
    calls["w.1"] = Call("w.1", NOW - 20, caller_id_num="13900000011", where="queue")
    calls["t.1"] = Call("t.1", NOW - 90, caller_id_num="13900000012", where="talking")
    calls["s.1"] = Call("s.1", NOW - 200, caller_id_num="13900000013", seat="1001")  # survey
    calls["i.1"] = Call("i.1", NOW - 5, caller_id_num="13900000014")  # in the IVR: this call
    calls["c.1"] = Call(
        "c.1", NOW - 30, caller_id_num="13900000015", where="talking", callback_of="x.1"
    )
    priority = instance(one, live)
    decided = [(await priority.decide(f"139000000{n}", "", NOW)).priority for n in range(11, 16)]
    assert decided == [2, 2, 2, 0, 0]


async def test_no_database_answer_is_no_repeat_and_does_not_keep_the_caller() -> None:
    engine = create_engine(UNREACHABLE)
    live = LiveState(lambda: NOW)
    live.node_state("pbx1").calls["w.1"] = Call("w.1", NOW, caller_id_num=GONE, where="queue")
    try:
        down = CallerPriority(RULES, SqlHistory(session_factory(engine)), live)
        assert (await down.decide("13900000002", "", NOW, base=1)).priority == 1
        assert (await down.decide(GONE, "", NOW)).priority == 2  # the live model still says
    finally:
        await engine.dispose()

    class Slow:
        async def last_queued(self, caller: str, since_epoch: float) -> float | None:
            await asyncio.sleep(10)
            return NOW

    slow = CallerPriority(RULES, Slow(), live, lookup_timeout_s=0.05)
    started = time.monotonic()
    assert (await slow.decide("13900000002", "", NOW)).priority == 0
    assert time.monotonic() - started < 1.0
