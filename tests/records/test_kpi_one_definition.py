"""The KPI definitions exist as SQL (`kpi.compute`, any range) and as Python
(`kpi.contribution`, the day so far): on random calls, stored and then counted both
ways, every figure is the same, for the whole centre, per queue, and per intake kind
and unit (the current version of a call's intake; calls without one `unclassified`)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.records import kpi
from callcenter.records.builder import FinishedCall
from callcenter.records.intake import KIND_NAMES
from callcenter.records.models import CallIntake
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
        # to the millisecond, as records keep them: means of these fall between two
        # milliseconds half the time, where a float sum's last bit would decide
        talk_s=round(rng.uniform(0, 400), 3) if answered else 0.0,
        wrapup_s=rng.choice([0.0, 10.0, 12.5]) if answered else 0.0,
        rating=rng.choice([None, None, 1, 2, 3]),
        kind=kind,
        direction="outbound" if kind == "callback" else "inbound",
        # the time-to-queue buckets' edges, between them, and never queued
        queued_after_s=rng.choice(
            [0.4, 1.0, 5.0, 5.5, 6.0, 10.0, 14.0, 300.0, 301.0, round(rng.uniform(0, 20), 3)]
        )
        if queue
        else None,
        call_source="110" if rng.random() < 0.2 else "direct",
    )


UNITS = ["HOUSING", "TRAFFIC", "WATER"]


def random_intakes(rng: random.Random, calls: list[FinishedCall]) -> dict[str, tuple[str, str]]:
    """linkedid -> (kind, unit) of the current version, for some of the calls."""
    return {
        c.linkedid: (rng.choice(KIND_NAMES), rng.choice(UNITS)) for c in calls if rng.random() < 0.7
    }


def intake_rows(rng: random.Random, current: dict[str, tuple[str, str]]) -> list[CallIntake]:
    """The versions: the current one, after an earlier one of another kind and unit
    for some calls (which must not count)."""
    rows = []
    at = datetime(2026, 11, 20, tzinfo=UTC)
    for linkedid, (kind, unit) in current.items():
        earlier = rng.random() < 0.3
        versions = [("opinion" if kind != "opinion" else "help", "OLD"), (kind, unit)]
        for n, (k, u) in enumerate(versions if earlier else versions[1:], start=1):
            last = n == (2 if earlier else 1)
            rows.append(
                CallIntake(
                    node="pbx1",
                    linkedid=linkedid,
                    version=n,
                    current=last,
                    kind=k,
                    unit=u,
                    unit_name=u.lower(),
                    summary="",
                    ticket=None,
                    resolved_on_call=False,
                    author="agent",
                    role="agent",
                    seat="1001",
                    written_at=at,
                    correction=not last,
                )
            )
    return rows


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
    """Every figure equal, means to the last place (they are sums of whole
    milliseconds, whatever order the calls were added in)."""
    assert a == b, [(name, a[name], b[name]) for name in a if a[name] != b[name]]


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
        # per source: the 110 platform's hand-overs and the callers' own calls
        async with sessions() as session:
            by_source = await kpi.compute(session, int(DAY0), int(DAY0) + 86400, "source")
        assert {r.group for r in by_source} == {"direct", "110"}
        for sql_row in by_source:
            mine = [c for c in calls if c.call_source == sql_row.group]
            same(kpi.figures_of(python_tally(mine).figures()), kpi.figures_of(sql_row))
        # per intake kind and unit: the current version's, `unclassified` without one
        intakes = random_intakes(rng, calls)
        async with sessions() as session, session.begin():
            session.add_all(intake_rows(rng, intakes))
        for group, part in (("kind", 0), ("unit", 1)):
            async with sessions() as session:
                rows = await kpi.compute(session, int(DAY0), int(DAY0) + 86400, group)

            def group_of(c: FinishedCall, part: int = part) -> str:
                known = intakes.get(c.linkedid)
                return kpi.intake_group(known[part] if known else None)

            assert {r.group for r in rows} == {group_of(c) for c in calls if c.kind != "callback"}
            assert kpi.UNCLASSIFIED in {r.group for r in rows}
            assert "OLD" not in {r.group for r in rows}
            for sql_row in rows:
                mine = [c for c in calls if group_of(c) == sql_row.group]
                same(kpi.figures_of(python_tally(mine).figures()), kpi.figures_of(sql_row))
            assert sum(r.calls for r in rows) == row.calls
        # the day book read back from the database: the same again
        book = DayBook(sessions, lambda: DAY0 + 86399)
        await book.refresh()
        same(kpi.figures_of(book.view().centre), kpi.figures_of(row))
    finally:
        await engine.dispose()


def test_a_mean_does_not_depend_on_the_order_calls_came_and_went() -> None:
    """The day book adds a record and takes away the draft or older version it
    replaces; another instance adds the same calls once each, in another order. Two
    waits whose mean lies half a millisecond between two (11.511 and 25.708: 18.6095)
    came out 18.609 one way and 18.61 the other when summed as floats."""
    first, second, gone = kpi.Tally(), kpi.Tally(), kpi.Tally()
    for part, wait in ((first, 11.511), (second, 25.708), (gone, 286.394)):
        # an answered call: its wait, talk and time to queue all `wait`
        kpi.count_into(
            part, "hotline-general", "PJSIP/1001", "answered", wait, wait, 0.0, None, False, wait
        )
    once = kpi.Tally()
    once.add(first)
    once.add(second)
    churned = kpi.Tally()
    churned.add(gone)
    churned.add(second)
    churned.add(first)
    churned.add(gone, -1)
    figures = once.figures()
    assert figures == churned.figures()
    assert figures.asa_s == figures.aht_s == figures.time_to_queue_s == 18.61  # half up
