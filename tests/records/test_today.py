"""The day so far (records.today): finished calls from the database and from this
instance's hand, calls in progress from the drafts, each counted once; the same on two
instances; cut at city midnight."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import migrate
from callcenter.clock import CityTime
from callcenter.db import create_engine, session_factory
from callcenter.records.builder import RecordDraft
from callcenter.records.store import RecordStore
from callcenter.records.today import DayBook
from tests.records.factory import DAY0, call

H9 = DAY0 + 9 * 3600


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    yield session_factory(engine)
    await engine.dispose()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def waiting(linkedid: str, started: float) -> RecordDraft:
    draft = RecordDraft("pbx1", linkedid, started, caller="13900000009")
    draft.queues, draft.in_queue = ["hotline-general"], "hotline-general"
    return draft


def talking(linkedid: str, started: float, wait: float) -> RecordDraft:
    draft = RecordDraft("pbx1", linkedid, started, caller="13900000008")
    draft.queues, draft.queue_exit, draft.wait_s = ["hotline-general"], "answered", wait
    draft.agent, draft.seat, draft.answered_at = "PJSIP/1001", "1001", started + wait
    return draft


async def test_finished_and_in_progress_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    clock = Clock(H9 + 600)
    store = RecordStore(sessions)
    await store.upsert([call("a1", wait_s=4.0, seat="1001"), call("a2", wait_s=30.0, seat="1002")])
    drafts = [waiting("w1", H9 + 500), talking("t1", H9 + 400, 8.0)]
    book = DayBook(sessions, clock, lambda: drafts)
    assert await book.refresh() == 2
    view = book.view()
    general = view.queues["hotline-general"]
    assert (general.offered, general.answered, general.answered_15s) == (4, 3, 2)
    assert general.sl15 == 0.5 and general.sl15_of_answered == round(2 / 3, 4)
    assert view.centre == general and view.in_progress == 2
    # a seat's calls: its records and the call it is on
    seats = book.seats()
    assert seats["1001"].calls == 2 and seats["1002"].calls == 1
    assert seats["1001"].talk_s == pytest.approx(100.0 + 600 - 408, abs=0.1)

    # the talking call ends: its record replaces its draft, nothing counted twice
    drafts.pop()
    book.observe(call("t1", started_at=H9 + 400, wait_s=8.0, seat="1001", talk_s=150.0))
    after = book.view()
    assert after.queues["hotline-general"].offered == 4
    assert after.queues["hotline-general"].answered == 3 and after.in_progress == 1
    # and the database getting it (from this or another instance) changes nothing
    await store.upsert([call("t1", started_at=H9 + 400, wait_s=8.0, seat="1001", talk_s=150.0)])
    await book.refresh()
    assert book.view().queues == after.queues


async def test_two_instances_and_a_restart_agree(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock(H9 + 3600)
    drafts = [waiting("w1", H9 + 3500)]
    one = DayBook(sessions, clock, lambda: drafts)
    two = DayBook(sessions, clock, lambda: drafts)
    finished = [call(f"c{n}", started_at=H9 + n * 60, wait_s=float(n)) for n in range(20)]
    for record in finished[:10]:  # `one` wrote these; `two` was not yet running
        one.observe(record)
    await RecordStore(sessions).upsert(finished[:10])
    for record in finished[10:]:  # both follow the same PBX from here on
        one.observe(record)
        two.observe(record)
    await two.refresh()  # the second instance reads the day back
    assert one.view().queues == two.view().queues
    assert one.view().queues["hotline-general"].offered == 21
    restarted = DayBook(sessions, clock, lambda: drafts)
    await RecordStore(sessions).upsert(finished[10:])
    await restarted.refresh()
    assert restarted.view().queues == one.view().queues


async def test_late_facts_from_the_database(sessions: async_sessionmaker[AsyncSession]) -> None:
    """A rating stored after the call, seen at the next read of the day."""
    clock = Clock(H9 + 600)
    book = DayBook(sessions, clock)
    record = call("r1")
    book.observe(record)
    assert book.view().centre.rated == 0
    await RecordStore(sessions).upsert([call("r1", rating=1)])
    await book.refresh()
    assert (book.view().centre.rated, book.view().centre.satisfied) == (1, 1)
    book.observe(call("r1"))  # the same record again from the builder: the rating stays
    assert book.view().centre.rated == 1


async def test_the_day_is_cut_at_city_midnight(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    berlin = CityTime.named("Europe/Berlin")
    midnight = berlin.date_start(berlin.local(DAY0 + 86400).date())
    clock = Clock(midnight - 60)
    await RecordStore(sessions).upsert(
        [
            call("before", started_at=midnight - 120),
            call("after", started_at=midnight + 30),
        ]
    )
    book = DayBook(sessions, clock, city=berlin)
    await book.refresh()
    assert book.view().centre.calls == 1
    clock.now = midnight + 60
    assert book.view().centre.calls == 0  # a new day: nothing of yesterday
    await book.refresh()
    assert book.view().centre.calls == 1 and book.day_start == midnight


async def test_hours_and_waiting_peak(sessions: async_sessionmaker[AsyncSession]) -> None:
    clock = Clock(H9 + 3 * 3600)
    drafts = [waiting("w1", H9 + 3 * 3600 - 30), waiting("w2", H9 + 3 * 3600 - 20)]
    book = DayBook(sessions, clock, lambda: drafts)
    book.observe(call("x", started_at=H9 + 100))
    book.observe(call("y", started_at=H9 + 3700))
    hours = book.view().hours
    # a call counts in the hour it started in; the callers waiting now, in this hour
    assert [h.hour_start for h in hours] == [H9, H9 + 3600, H9 + 2 * 3600, H9 + 3 * 3600]
    assert [h.figures.offered for h in hours] == [1, 1, 2, 0]
    assert [h.waiting_peak for h in hours] == [0, 0, 0, 2]


async def test_time_to_queue_and_the_waiting_peak_of_finished_calls(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Time to queue (answer -> queue entry): its mean and p90 (to the second up to
    10 s); two callers who waited at once in an hour make that hour's peak 2, read
    back from the database as from this instance's own hand."""
    clock = Clock(H9 + 3600)
    calls = [
        call("q1", started_at=H9 + 10, queued_after_s=4.0, wait_s=30.0),
        call("q2", started_at=H9 + 20, queued_after_s=5.5, wait_s=30.0),
        call("q3", started_at=H9 + 100, queued_after_s=16.0, wait_s=2.0),
        call("iv", started_at=H9 + 200, queues=[], queue_exit="", wait_s=None, agent=""),
    ]
    book = DayBook(sessions, clock)
    for record in calls:
        book.observe(record)
    own = book.view()
    assert own.centre.time_to_queue_s == round((4.0 + 5.5 + 16.0) / 3, 3)
    assert own.centre.time_to_queue_p90_s == 20.0  # the 15..20 s bucket's edge
    assert own.hours[0].waiting_peak == 2
    await RecordStore(sessions).upsert(calls)
    fresh = DayBook(sessions, clock)
    await fresh.refresh()
    assert fresh.view().centre == own.centre
    assert fresh.view().hours == own.hours
