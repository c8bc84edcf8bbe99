"""Today's per-queue counters start from the day's records after a restart."""

from __future__ import annotations

from pathlib import Path

from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.records.kpi import TodayCounters, seed_today_counters
from callcenter.records.store import RecordStore
from tests.records.factory import DAY0, call


async def test_counters_start_from_todays_records(database_url: str, tmp_path: Path) -> None:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    now = DAY0 + 12 * 3600  # noon: every "earlier today" below is the same city day
    no_agent = dict(agent="", seat="", disposition="abandoned", queue_exit="abandoned")
    await RecordStore(sessions).upsert(
        [
            call("a", started_at=now - 30, wait_s=4.0),
            call("b", started_at=now - 20, wait_s=40.0),
            call("c", started_at=now - 10, wait_s=10.0, **no_agent),
            call("d", started_at=now - 5, wait_s=30.0, **no_agent),
            call("t", started_at=now - 5, wait_s=60.0, agent="", queue_exit="timeout"),
            call("y", started_at=now - 3 * 86400),  # another day
        ]
    )
    counters = TodayCounters()
    assert await seed_today_counters(counters, sessions, now) == 5
    day = counters.get("hotline-general", now)
    assert (day.offered, day.answered, day.answered_in_sl) == (5, 2, 1)
    assert (day.abandoned, day.abandoned_in_sl) == (2, 1)
    await engine.dispose()
