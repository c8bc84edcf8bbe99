"""The KPI definitions exist as SQL (`kpi.compute`, any range) and as Python
(`kpi.contribution`, the day so far): on random calls, stored and then counted both
ways, every figure is the same."""

from __future__ import annotations

import random
from typing import Any

import pytest

from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.records import kpi
from callcenter.records.builder import FinishedCall
from callcenter.records.store import RecordStore
from callcenter.records.today import DayBook
from tests.records.factory import DAY0, call

QUEUES = ["", "hotline-general", "hotline-housing"]
EXITS = ["", "answered", "abandoned", "timeout", "redirected", "refused", "left_with_key"]


def random_call(rng: random.Random, n: int) -> FinishedCall:
    queue = rng.choice(QUEUES)
    answered = bool(queue) and rng.random() < 0.6
    wait: float | None = None
    if queue:
        # edges of every threshold: 5 and 15 s exactly, just above, and none at all
        wait = rng.choice([0.0, 3.2, 5.0, 5.1, 14.9, 15.0, 15.1, 40.0, None])
    kind = "callback" if rng.random() < 0.1 else "call"
    return call(
        f"c{n}",
        started_at=DAY0 + rng.randrange(0, 86400),
        queues=[queue] if queue else [],
        queue_exit="answered" if answered else rng.choice(EXITS),
        wait_s=wait,
        agent="PJSIP/1001" if answered else "",
        seat="1001" if answered else "",
        talk_s=round(rng.uniform(0, 400), 1) if answered else 0.0,
        wrapup_s=rng.choice([0.0, 10.0, 12.5]) if answered else 0.0,
        rating=rng.choice([None, None, 1, 2, 3]),
        kind=kind,
        direction="outbound" if kind == "callback" else "inbound",
        # the time-to-queue buckets' edges, between them, and never queued
        queued_after_s=rng.choice([0.4, 1.0, 5.0, 5.5, 6.0, 10.0, 14.0, 300.0, 301.0])
        if queue
        else None,
    )


def python_tally(calls: list[FinishedCall]) -> kpi.Tally:
    total = kpi.Tally()
    for c in calls:
        part = kpi.contribution(
            kind=c.kind,
            queue=c.queues[0] if c.queues else "",
            agent=c.agent,
            queue_exit=c.queue_exit,
            wait_s=c.wait_s,
            talk_s=c.talk_s,
            wrapup_s=c.wrapup_s,
            rating=c.rating,
            called_back=False,
            queued_after_s=c.queued_after_s,
        )
        if part is not None:
            total.add(part)
    return total


def same(a: dict[str, Any], b: dict[str, Any]) -> None:
    for name, value in a.items():
        other = b[name]
        if isinstance(value, float) and isinstance(other, float):
            assert value == pytest.approx(other, abs=1e-3), name
        else:
            assert value == other, name


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_sql_and_python_count_alike(database_url: str, seed: int) -> None:
    rng = random.Random(seed)
    calls = [random_call(rng, n) for n in range(300)]
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    try:
        await RecordStore(sessions).upsert(calls)
        async with sessions() as session:
            (row,) = await kpi.compute(session, int(DAY0), int(DAY0) + 86400)
        same(kpi.figures_of(python_tally(calls).figures()), kpi.figures_of(row))
        # and per queue, as the day so far shows them
        async with sessions() as session:
            by_queue = await kpi.compute(session, int(DAY0), int(DAY0) + 86400, "queue")
        for sql_row in by_queue:
            mine = [c for c in calls if (c.queues[0] if c.queues else "") == sql_row.group]
            same(kpi.figures_of(python_tally(mine).figures()), kpi.figures_of(sql_row))
        # the day book read back from the database: the same again
        book = DayBook(sessions, lambda: DAY0 + 86399)
        await book.refresh()
        same(kpi.figures_of(book.view().centre), kpi.figures_of(row))
    finally:
        await engine.dispose()
