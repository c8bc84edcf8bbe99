"""The KPIs the city is assessed on, computed from call records in one SQL aggregate.

Definitions and denominators follow DOMAIN.md "KPIs"; every count is returned with the
rates, so a report can always show what a rate was divided by:
- offered: calls that reached a queue (`queue` not empty). IVR-only calls and callers
  refused by joinempty never joined, so they are not offered.
- answered: offered calls an agent answered (a call the agent later transferred is
  still answered). 接通率 = answered / offered.
- SL15: answered within 15 s of waiting / offered (abandons count against); also
  reported / answered, labelled as such.
- abandon rate: callers who hung up in the queue after more than 5 s / offered; short
  abandons (<= 5 s) are reported separately. Timeouts and redirects are not abandons
  (builder.py tells them apart).
- ASA: mean wait of answered calls; AHT: mean talk + wrap-up of answered calls.
- satisfaction: (满意 + 基本满意) / rated calls.
- callback completion: callers who hung up in the queue (any wait) and were then reached
  by a callback (a callback record naming their Linkedid says `reached`, or the
  worklist's callback_tasks row for it is `done` while that record is still being
  written) / those callers.
- callbacks are records of their own (kind `callback`, outbound): never calls, offered,
  answered or abandoned, in any figure here or in /stats/today.

The wallboard's instant per-queue counters of today (`QueueDay`, counted from the live
model's changes as they happen) are defined here too; their SL15 and answer rate are
percentages over answered + abandoned (short abandons apart) while the records' are
fractions over offered: the figures issue makes them one.

Counts use `FILTER (WHERE ...)`, which PostgreSQL and SQLite (3.30 and newer) share.
Periods are cut in the city's local time (UTC+8 by default) by integer arithmetic on
`start_epoch`, which PostgreSQL and SQLite evaluate identically; a call counts in the
period it started in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from callcenter.clock import SHANGHAI, CityTime
from callcenter.records.models import CallbackTask, CallRecord

SL_SECONDS = 15
SHORT_ABANDON_S = 5
PERIODS = {"15min": 900, "hour": 3600, "day": 86400}
CALLBACK = "callback"  # CallRecord.kind of a callback the service placed
#: group name -> the record column it groups by
GROUPS: dict[str, Any] = {
    "queue": CallRecord.queue,
    "unit": CallRecord.unit,
    "seat": CallRecord.seat,
    "number": CallRecord.dialed,
}


class KpiQueryError(ValueError):
    """A KPI request that names an unknown grouping or period."""


@dataclass(frozen=True, slots=True)
class KpiRow:
    period_start: int | None  # epoch seconds of the period's start (None: whole range)
    group: str | None  # the queue / unit / seat / number (None: everything)
    calls: int
    offered: int
    answered: int
    answered_15s: int
    abandoned: int
    short_abandoned: int
    asa_s: float | None
    aht_s: float | None
    rated: int
    satisfied: int
    callbacks_reached: int = 0

    @staticmethod
    def _ratio(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    @property
    def answer_rate(self) -> float | None:
        return self._ratio(self.answered, self.offered)

    @property
    def sl15(self) -> float | None:
        return self._ratio(self.answered_15s, self.offered)

    @property
    def sl15_of_answered(self) -> float | None:
        return self._ratio(self.answered_15s, self.answered)

    @property
    def abandon_rate(self) -> float | None:
        return self._ratio(self.abandoned, self.offered)

    @property
    def satisfaction(self) -> float | None:
        return self._ratio(self.satisfied, self.rated)

    @property
    def callback_completion(self) -> float | None:
        return self._ratio(self.callbacks_reached, self.abandoned + self.short_abandoned)


def _count(condition: ColumnElement[bool]) -> Any:
    # FILTER (PostgreSQL, SQLite >= 3.30) rather than SUM(CASE ... THEN 1 ELSE 0): no
    # per-row CASE, and no bound 1s and 0s for a prepared statement to carry around
    return func.count().filter(condition)


async def compute(
    session: AsyncSession,
    start_epoch: int,
    end_epoch: int,
    group: str | None = None,
    period: str | None = None,
    city: CityTime = SHANGHAI,
) -> list[KpiRow]:
    """KPIs of calls started in [start_epoch, end_epoch), per group and period.

    Periods are cut on the city's clock at the range's start (exact for a zone without
    daylight saving, as every zone of China)."""
    if group is not None and group not in GROUPS:
        raise KpiQueryError(f"group: unknown {group!r}; one of {sorted(GROUPS)}")
    if period is not None and period not in PERIODS:
        raise KpiQueryError(f"period: unknown {period!r}; one of {sorted(PERIODS)}")
    r = CallRecord
    offered = r.queue != ""
    answered = and_(offered, r.agent != "")
    abandoned = r.queue_exit == "abandoned"
    # the calls a callback reached, as one set (hashed once): a correlated EXISTS on
    # `callback_of` is planned as a scan per row once the table has statistics (nearly
    # every row's `callback_of` is empty), 20,000 x 20,000 comparisons for a day. A
    # callback starts after the call it answers, so the set is bounded by the window.
    callback = aliased(CallRecord)
    reached = select(callback.callback_of).where(
        callback.kind == CALLBACK,
        callback.disposition == "reached",
        callback.start_epoch >= start_epoch,
    )
    called_back = or_(
        r.linkedid.in_(reached),
        exists().where(CallbackTask.uniqueid == r.linkedid, CallbackTask.status == "done"),
    )
    keys: list[Any] = []
    if period is not None:
        size = PERIODS[period]
        utc_offset_s = city.offset_s(start_epoch)
        bucket = (r.start_epoch + utc_offset_s) // size * size - utc_offset_s
        keys.append(bucket.label("period_start"))
    else:
        keys.append(literal(None).label("period_start"))
    keys.append((GROUPS[group] if group else literal(None)).label("grp"))
    query = select(
        *keys,
        func.count().label("calls"),
        _count(offered),
        _count(answered),
        _count(and_(answered, r.wait_s <= SL_SECONDS)),
        _count(and_(abandoned, r.wait_s > SHORT_ABANDON_S)),
        _count(and_(abandoned, r.wait_s <= SHORT_ABANDON_S)),
        func.avg(r.wait_s).filter(answered),
        func.avg(r.talk_s + r.wrapup_s).filter(answered),
        _count(r.rating.is_not(None)),
        _count(r.rating.in_((1, 2))),
        _count(and_(abandoned, called_back)),
    ).where(r.start_epoch >= start_epoch, r.start_epoch < end_epoch, r.kind != CALLBACK)
    grouping = [k for k, used in ((keys[0], period), (keys[1], group)) if used]
    if grouping:
        query = query.group_by(*grouping).order_by(*grouping)
    rows = (await session.execute(query)).all()
    out = []
    for row in rows:
        values = list(row)
        if values[2] == 0 and not grouping:
            values[0] = None
        out.append(
            KpiRow(
                period_start=int(values[0]) if values[0] is not None else None,
                group=str(values[1]) if values[1] is not None else None,
                calls=int(values[2]),
                offered=int(values[3]),
                answered=int(values[4]),
                answered_15s=int(values[5]),
                abandoned=int(values[6]),
                short_abandoned=int(values[7]),
                asa_s=round(float(values[8]), 3) if values[8] is not None else None,
                aht_s=round(float(values[9]), 3) if values[9] is not None else None,
                rated=int(values[10]),
                satisfied=int(values[11]),
                callbacks_reached=int(values[12]),
            )
        )
    return out


@dataclass
class QueueDay:
    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    abandoned_in_sl: int = 0  # gave up within the threshold: not counted against SL

    @property
    def sl15(self) -> float | None:
        """Answered within 15 s / (answered + abandoned after 15 s), in percent: a
        caller who hung up after 3 s is not the floor's failure."""
        base = self.answered + self.abandoned - self.abandoned_in_sl
        return None if base == 0 else round(100.0 * self.answered_in_sl / base, 1)

    @property
    def answer_rate(self) -> float | None:
        base = self.answered + self.abandoned
        return None if base == 0 else round(100.0 * self.answered / base, 1)


class TodayCounters:
    def __init__(self) -> None:
        self._day: str = ""
        self.queues: dict[str, QueueDay] = {}

    def _roll(self, now: float) -> None:
        day = SHANGHAI.date_of(now)
        if day != self._day:
            self._day, self.queues = day, {}

    def get(self, queue: str, now: float) -> QueueDay:
        self._roll(now)
        return self.queues.setdefault(queue, QueueDay())

    def offered(self, queue: str, now: float) -> None:
        self.get(queue, now).offered += 1

    def answered(self, queue: str, hold_s: float, now: float) -> None:
        day = self.get(queue, now)
        day.answered += 1
        if hold_s <= SL_SECONDS:
            day.answered_in_sl += 1

    def abandoned(self, queue: str, hold_s: float, now: float) -> None:
        day = self.get(queue, now)
        day.abandoned += 1
        if hold_s <= SL_SECONDS:
            day.abandoned_in_sl += 1


async def seed_today_counters(
    counters: TodayCounters, sessions: async_sessionmaker[AsyncSession], now: float
) -> int:
    """Start today's per-queue counters from the day's records, so a restarted service
    does not show a day that began at its start (app_queue's counters do exactly that).
    Calls still in progress at the restart are counted by the watcher when they end.
    Returns the number of calls counted."""
    r = CallRecord
    day_start = SHANGHAI.day_start(now)
    answered = r.agent != ""
    abandoned = r.queue_exit == "abandoned"

    def count(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    query = (
        select(
            r.queue,
            func.count(),
            count(answered),
            count(and_(answered, r.wait_s <= SL_SECONDS)),
            count(abandoned),
            count(and_(abandoned, r.wait_s <= SL_SECONDS)),
        )
        .where(
            r.start_epoch >= day_start,
            r.start_epoch < day_start + 86400,
            r.queue != "",
            r.kind != CALLBACK,
        )
        .group_by(r.queue)
    )
    async with sessions() as session:
        rows = (await session.execute(query)).all()
    total = 0
    for queue, offered, took, took_in_sl, gave_up, gave_up_in_sl in rows:
        day = counters.get(str(queue), now)
        day.offered += int(offered)
        day.answered += int(took)
        day.answered_in_sl += int(took_in_sl)
        day.abandoned += int(gave_up)
        day.abandoned_in_sl += int(gave_up_in_sl)
        total += int(offered)
    return total
