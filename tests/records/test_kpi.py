"""KPI definitions on hand-built calls (DOMAIN.md "KPIs"), in SQL on SQLite and
PostgreSQL: every denominator checked with a case that would break a wrong one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.records import kpi
from callcenter.records.models import CallbackTask
from callcenter.records.store import RecordStore
from tests.records.factory import DAY0, call

H9 = DAY0 + 9 * 3600  # 09:00 local


def day() -> list:  # type: ignore[type-arg]
    no_agent = dict(agent="", seat="", talk_s=0.0, wrapup_s=0.0)
    return [
        # answered at 5 s and at 15 s (both within SL15), one at 30 s; one rated 1, one 3
        call("a1", wait_s=5.0, rating=1, talk_s=100.0, wrapup_s=20.0),
        call("a2", wait_s=15.0, rating=3, talk_s=200.0, wrapup_s=0.0),
        call("a3", wait_s=30.0, rating=2, seat="s1002", agent="PJSIP/1002", started_at=H9 + 3600),
        # answered, then transferred by the agent to a unit: still answered
        call("t1", wait_s=10.0, disposition="transferred", queues=["hotline-housing"]),
        # a real abandon after 20 s, a short abandon after 3 s
        call("ab", wait_s=20.0, disposition="abandoned", queue_exit="abandoned", **no_agent),
        call("sh", wait_s=3.0, disposition="abandoned", queue_exit="abandoned", **no_agent),
        # a timeout (QueueCallerAbandon on the wire!) and a redirect: offered, not abandons
        call("to", wait_s=60.0, disposition="fallback_routed", queue_exit="timeout", **no_agent),
        call("rd", wait_s=8.0, disposition="transferred", queue_exit="redirected", **no_agent),
        # never offered: IVR only, joinempty refusal
        call("iv", wait_s=None, queues=[], queue_exit="", disposition="ivr_only", **no_agent),
        call(
            "je",
            wait_s=None,
            queues=[],
            queue_exit="refused",
            disposition="fallback_routed",
            **no_agent,
        ),
        # the next day: outside the range
        call("nx", started_at=DAY0 + 86400 + 60),
    ]


@pytest.fixture
async def sessions(database_url: str):  # type: ignore[no-untyped-def]
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    factory = session_factory(engine)
    await RecordStore(factory).upsert(day())
    now = datetime.now(UTC)
    async with factory() as s, s.begin():  # the long abandon was called back, reached
        for uniqueid, status in (("ab", "done"), ("sh", "failed"), ("a1", "done")):
            s.add(
                CallbackTask(
                    uniqueid=uniqueid,
                    source="abandoned",
                    caller="",
                    queue="",
                    waited_s=0,
                    status=status,
                    max_attempts=3,
                    due_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
    yield factory
    await engine.dispose()


async def test_day_totals(sessions) -> None:  # type: ignore[no-untyped-def]
    async with sessions() as s:
        (row,) = await kpi.compute(s, int(DAY0), int(DAY0 + 86400))
    assert row.calls == 10 and row.offered == 8
    assert row.answered == 4 and row.answer_rate == 0.5
    assert row.answered_15s == 3 and row.sl15 == 0.375 and row.sl15_of_answered == 0.75
    assert row.abandoned == 1 and row.short_abandoned == 1 and row.abandon_rate == 0.125
    assert row.asa_s == 15.0  # (5 + 15 + 30 + 10) / 4
    assert row.aht_s == (120 + 200 + 110 + 110) / 4
    assert row.rated == 3 and row.satisfied == 2 and row.satisfaction == 0.6667
    # "a1" was answered: a stray task for it is not a callback of an abandoned caller
    assert row.callbacks_reached == 1 and row.callback_completion == 0.5


async def test_callback_records_are_no_calls_and_complete_the_callback(sessions) -> None:  # type: ignore[no-untyped-def]
    """The short abandon "sh" (its task failed) was reached by a callback record alone;
    two callback records (one not answered) add no call, offer or queue row."""
    link = dict(direction="outbound", kind="callback", callback_of="sh", queues=[], wait_s=None)
    callbacks = [
        call("cb1", disposition="no_answer", talk_s=0.0, **link),
        call("cb2", disposition="reached", **link),
    ]
    await RecordStore(sessions).upsert(callbacks)
    async with sessions() as s:
        (row,) = await kpi.compute(s, int(DAY0), int(DAY0 + 86400))
        by_queue = await kpi.compute(s, int(DAY0), int(DAY0 + 86400), group="queue")
        by_seat = await kpi.compute(s, int(DAY0), int(DAY0 + 86400), group="seat")
    assert (row.calls, row.offered, row.answered) == (10, 8, 4)
    assert row.callbacks_reached == 2 and row.callback_completion == 1.0
    assert sum(r.calls for r in by_queue) == 10
    assert {r.group: r.answered for r in by_seat} == {"s1001": 3, "s1002": 1, "": 0}


async def test_grouped_by_seat_and_hour(sessions) -> None:  # type: ignore[no-untyped-def]
    async with sessions() as s:
        by_seat = await kpi.compute(s, int(DAY0), int(DAY0 + 86400), group="seat")
        hours = await kpi.compute(s, int(DAY0), int(DAY0 + 2 * 86400), period="hour")
        days = await kpi.compute(s, int(DAY0), int(DAY0 + 2 * 86400), period="day")
    seats = {r.group: r.answered for r in by_seat}
    assert seats == {"s1001": 3, "s1002": 1, "": 0}
    assert [(r.period_start, r.calls) for r in hours] == [
        (int(H9), 9),
        (int(H9 + 3600), 1),
        (int(DAY0 + 86400), 1),
    ]
    assert [(r.period_start, r.calls) for r in days] == [(int(DAY0), 10), (int(DAY0 + 86400), 1)]


async def test_unknown_group_is_named(sessions) -> None:  # type: ignore[no-untyped-def]
    async with sessions() as s:
        with pytest.raises(kpi.KpiQueryError, match="group: unknown 'desk'"):
            await kpi.compute(s, 0, 1, group="desk")
