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

Groups: queue, seat, dialed number, the dialed number's unit (`dialed_unit`), and the
agent's intake (intake.py): its `kind` and the `unit` the matter concerns, so the city
assesses units and the centre on the same figures; a call without an intake is in the
group `unclassified`.

Every rate is a fraction 0..1 (percent appears only on screens). The same definitions
exist twice, because one side runs where the rows are: as SQL over stored records
(`compute`, any range) and as Python over one call (`count_into`, for the day so far:
records not yet stored and calls in progress, callcenter/records/today.py). They are
written side by side below, and tests/records/test_kpi_one_definition.py checks on
random calls that both give the same figures.

Counts use `FILTER (WHERE ...)`, which PostgreSQL and SQLite (3.30 and newer) share.
Periods are cut in the city's local time (UTC+8 by default) by integer arithmetic on
`start_epoch`, which PostgreSQL and SQLite evaluate identically; a call counts in the
period it started in.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field, fields
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import (
    ColumnElement,
    and_,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from callcenter.clock import SHANGHAI, CityTime
from callcenter.records.models import CallbackTask, CallIntake, CallRecord

SL_SECONDS = 15
SHORT_ABANDON_S = 5
PERIODS = {"15min": 900, "hour": 3600, "day": 86400}
CALLBACK = "callback"  # CallRecord.kind of a callback the service placed
#: the group of the calls without an intake (not classified yet, or never: IVR-only
#: and abandoned calls), in `group=kind` and `group=unit`
UNCLASSIFIED = "unclassified"


def intake_group(value: str | None) -> str:
    """A call's group by its intake's kind or unit (None: the call has no intake), as
    `compute` groups it in SQL."""
    return value or UNCLASSIFIED


def _intake_column(column: Any) -> Any:
    # a literal in the SQL text, not a bound parameter: GROUP BY and the select list
    # then hold the same expression on PostgreSQL
    return func.coalesce(column, literal_column(f"'{UNCLASSIFIED}'"))


#: group name -> the record column it groups by. `unit` is the unit the matter
#: concerns (the agent's intake, intake.py), on which the city assesses units;
#: `dialed_unit` the unit whose number the caller dialed (the legacy directory's route);
#: `source` who handed the call over (direct | 110, callcenter/from110.py)
GROUPS: dict[str, Any] = {
    "queue": CallRecord.queue,
    "dialed_unit": CallRecord.unit,
    "seat": CallRecord.seat,
    "number": CallRecord.dialed,
    "source": CallRecord.call_source,
    "kind": _intake_column(CallIntake.kind),
    "unit": _intake_column(CallIntake.unit),
}
#: the groups read from the call's current intake (an outer join: every call counts)
INTAKE_GROUPS = frozenset({"kind", "unit"})


class KpiQueryError(ValueError):
    """A KPI request that names an unknown grouping or period."""


def ratio(part: int, whole: int) -> float | None:
    """A rate as every API field gives it: a fraction 0..1 to 4 places; None over 0."""
    return round(part / whole, 4) if whole else None


#: upper edges (seconds) of the time-to-queue buckets: a second apart up to 10 s, where
#: the target (<= 6 s for 12345) is judged, coarser above; p90 is a bucket's edge
TO_QUEUE_EDGES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 30, 45, 60, 120, 300)
TO_QUEUE_BUCKETS = len(TO_QUEUE_EDGES) + 1


def to_ms(seconds: float) -> int:
    """A duration in whole milliseconds, as `_ms` has it in SQL (`count_into` writes it
    inline: it runs for every call in progress on every view). Records keep their
    durations to the millisecond (builder.py `FinishedCall`), so no value is a tie that
    the two sides could round apart."""
    return round(seconds * 1000)


def _ms(column: Any) -> Any:
    """`to_ms` in SQL."""
    return func.round(column * 1000)


def mean_s(total_ms: int, n: int) -> float | None:
    """A mean duration in seconds, to the millisecond (half up, in integers: exact);
    None over no calls."""
    if n <= 0:
        return None
    return ((2 * total_ms + n) // (2 * n)) / 1000


def _p90(hist: list[int], n: int) -> float | None:
    """The upper edge of the bucket holding the 90th percentile (the last edge when
    it lies above every edge: "at least")."""
    if n <= 0:
        return None
    wanted = 0.9 * n
    seen = 0
    for edge, count in zip(TO_QUEUE_EDGES, hist, strict=False):
        seen += count
        if seen >= wanted:
            return float(edge)
    return float(TO_QUEUE_EDGES[-1])


def buckets_of(total: int, at_most: list[int]) -> list[int]:
    """Per-bucket counts from cumulative ones (calls at most each edge), and the calls
    above the last edge."""
    out, below = [], 0
    for cumulative in at_most:
        out.append(cumulative - below)
        below = cumulative
    out.append(total - below)
    return out


@dataclass(slots=True)
class Tally:
    """Additive sums of the KPIs' parts over some calls: what a `KpiRow` is computed
    from. Sums, not means, so a call can be added and taken away again (a record that
    replaces its draft, a correction from the database). Durations are summed in whole
    milliseconds (`to_ms`): integers add up exactly in any order, so a mean is the same
    whichever way its calls were added, in SQL or here, and rounds the same."""

    calls: int = 0
    offered: int = 0
    answered: int = 0
    answered_15s: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    wait_ms: int = 0  # waits of answered calls that have one
    wait_n: int = 0
    handle_ms: int = 0  # talk + wrap-up of answered calls
    rated: int = 0
    satisfied: int = 0
    callbacks_reached: int = 0
    to_queue_ms: int = 0  # answer -> queue entry, of the calls that joined a queue
    to_queue_n: int = 0
    #: those calls by time to queue, one count per TO_QUEUE_EDGES bucket (+ one above)
    to_queue_hist: list[int] = field(default_factory=lambda: [0] * TO_QUEUE_BUCKETS)

    def add(self, other: Tally, sign: int = 1) -> None:
        self.calls += sign * other.calls
        self.offered += sign * other.offered
        self.answered += sign * other.answered
        self.answered_15s += sign * other.answered_15s
        self.abandoned += sign * other.abandoned
        self.short_abandoned += sign * other.short_abandoned
        self.wait_ms += sign * other.wait_ms
        self.wait_n += sign * other.wait_n
        self.handle_ms += sign * other.handle_ms
        self.rated += sign * other.rated
        self.satisfied += sign * other.satisfied
        self.callbacks_reached += sign * other.callbacks_reached
        if other.to_queue_n:
            self.to_queue_ms += sign * other.to_queue_ms
            self.to_queue_n += sign * other.to_queue_n
            hist = self.to_queue_hist
            for i, n in enumerate(other.to_queue_hist):
                if n:
                    hist[i] += sign * n

    def figures(self) -> Figures:
        """The figures of these calls: counts, rates (fractions) and means."""
        return Figures(**self._values())

    def row(self, period_start: int | None = None, group: str | None = None) -> KpiRow:
        """`figures`, of one group in one period."""
        return KpiRow(period_start=period_start, group=group, **self._values())

    def _values(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "offered": self.offered,
            "answered": self.answered,
            "answered_15s": self.answered_15s,
            "abandoned": self.abandoned,
            "short_abandoned": self.short_abandoned,
            "answer_rate": ratio(self.answered, self.offered),
            "sl15": ratio(self.answered_15s, self.offered),
            "sl15_of_answered": ratio(self.answered_15s, self.answered),
            "abandon_rate": ratio(self.abandoned, self.offered),
            "asa_s": mean_s(self.wait_ms, self.wait_n),
            "aht_s": mean_s(self.handle_ms, self.answered),
            "rated": self.rated,
            "satisfied": self.satisfied,
            "satisfaction": ratio(self.satisfied, self.rated),
            "callbacks_reached": self.callbacks_reached,
            "callback_completion": ratio(
                self.callbacks_reached, self.abandoned + self.short_abandoned
            ),
            "time_to_queue_s": mean_s(self.to_queue_ms, self.to_queue_n),
            "time_to_queue_p90_s": _p90(self.to_queue_hist, self.to_queue_n),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Figures:
    """The figures of some calls as every producer gives them (`/stats/*`, a queue's
    today, the centre's, the stream, the wallboard, the bench): counts, each rate with
    its denominator named, and the means."""

    calls: Annotated[int, Field(description="every call started in the range, IVR-only included")]
    offered: Annotated[
        int, Field(description="calls that reached a queue (IVR-only, refused excluded)")
    ]
    answered: Annotated[int, Field(description="offered calls an agent answered")]
    answered_15s: Annotated[int, Field(description="answered calls that waited <= 15 s")]
    abandoned: Annotated[int, Field(description="callers who hung up in queue after > 5 s")]
    short_abandoned: Annotated[int, Field(description="callers who hung up in queue within 5 s")]
    answer_rate: Annotated[
        float | None, Field(description="接通率 = answered ÷ offered (fraction 0..1)")
    ]
    sl15: Annotated[
        float | None,
        Field(description="service level = answered_15s ÷ offered (abandons count against; 0..1)"),
    ]
    sl15_of_answered: Annotated[
        float | None, Field(description="answered_15s ÷ answered (fraction 0..1)")
    ]
    abandon_rate: Annotated[
        float | None, Field(description="abandoned (> 5 s) ÷ offered (fraction 0..1)")
    ]
    asa_s: Annotated[float | None, Field(description="mean wait of answered calls, seconds")]
    aht_s: Annotated[
        float | None, Field(description="mean talk + wrap-up of answered calls, seconds")
    ]
    rated: Annotated[int, Field(description="calls with a survey rating")]
    satisfied: Annotated[int, Field(description="ratings 满意 or 基本满意")]
    satisfaction: Annotated[float | None, Field(description="satisfied ÷ rated (fraction 0..1)")]
    callbacks_reached: Annotated[
        int,
        Field(description="callers who hung up in queue (any wait) and were reached by a callback"),
    ]
    callback_completion: Annotated[
        float | None,
        Field(description="callbacks_reached ÷ (abandoned + short_abandoned) (fraction 0..1)"),
    ]
    time_to_queue_s: Annotated[
        float | None,
        Field(
            description="mean seconds from answer to queue entry (greeting and menus before "
            "a caller can be served), of the calls that joined a queue"
        ),
    ]
    time_to_queue_p90_s: Annotated[
        float | None,
        Field(
            description="90th percentile of that, to the second up to 10 s (coarser above, "
            "at most 300: 'at least')"
        ),
    ]


def figures_of(row: Figures) -> dict[str, Any]:
    """The `Figures` fields of a row (or of a subclass's), by name: to give the same
    figures another shape without naming them again."""
    return {f.name: getattr(row, f.name) for f in fields(Figures)}


@dataclass(frozen=True, slots=True, kw_only=True)
class KpiRow(Figures):
    """Figures of one group in one period."""

    period_start: int | None = None  # epoch seconds (city-time bucket); None: whole range
    #: the queue / seat / number / dialed unit, or the intake's kind / unit
    #: (UNCLASSIFIED: no intake); None: all calls
    group: str | None = None


SATISFIED = (1, 2)  # 满意, 基本满意


def is_offered(kind: str, queue: str) -> bool:
    """Whether a record is an offered call: a call (not a callback) that joined a queue."""
    return kind == "call" and queue != ""


def count_into(
    tally: Tally,
    queue: str,
    agent: str,
    queue_exit: str,
    wait_s: float | None,
    talk_s: float,
    wrapup_s: float,
    rating: int | None,
    called_back: bool,
    queued_after_s: float | None = None,
) -> None:
    """Add one call (not a callback) to `tally`, by the definitions `compute` writes in
    SQL, condition for condition: offered = it joined a queue; answered = offered and
    an agent took it; SL = answered within SL_SECONDS of waiting; an abandon is a
    hang-up in the queue, short when within SHORT_ABANDON_S; satisfied = 满意 or
    基本满意. In place, without a Tally per call: the day so far counts every call in
    progress on every view."""
    tally.calls += 1
    if queue:
        tally.offered += 1
        if agent:
            tally.answered += 1
            tally.handle_ms += round((talk_s + wrapup_s) * 1000)
            if wait_s is not None:
                tally.wait_n += 1
                tally.wait_ms += round(wait_s * 1000)
                if wait_s <= SL_SECONDS:
                    tally.answered_15s += 1
    if queue_exit == "abandoned":
        if wait_s is not None:
            if wait_s > SHORT_ABANDON_S:
                tally.abandoned += 1
            else:
                tally.short_abandoned += 1
        if called_back:
            tally.callbacks_reached += 1
    if rating is not None:
        tally.rated += 1
        if rating in SATISFIED:
            tally.satisfied += 1
    if queued_after_s is not None:
        tally.to_queue_n += 1
        tally.to_queue_ms += round(queued_after_s * 1000)
        tally.to_queue_hist[bisect_left(TO_QUEUE_EDGES, queued_after_s)] += 1


def contribution(
    *,
    kind: str,
    queue: str,
    agent: str,
    queue_exit: str,
    wait_s: float | None,
    talk_s: float,
    wrapup_s: float,
    rating: int | None,
    called_back: bool,
    queued_after_s: float | None = None,
) -> Tally | None:
    """One call's part of every KPI (`count_into`); None for a callback, which is no
    call."""
    if kind == CALLBACK:
        return None
    tally = Tally()
    count_into(
        tally,
        queue,
        agent,
        queue_exit,
        wait_s,
        talk_s,
        wrapup_s,
        rating,
        called_back,
        queued_after_s,
    )
    return tally


def called_back_since(start_epoch: int) -> ColumnElement[bool]:
    """A record's caller was reached by a callback the service placed after
    `start_epoch`: a callback record naming its Linkedid says `reached`, or the
    worklist's task for it is `done` while that record is still being written.

    The reached calls are one set (hashed once): a correlated EXISTS on `callback_of`
    is planned as a scan per row once the table has statistics (nearly every row's
    `callback_of` is empty), 20,000 x 20,000 comparisons for a day. A callback starts
    after the call it answers, so the set is bounded by the window."""
    r = CallRecord
    callback = aliased(CallRecord)
    reached = select(callback.callback_of).where(
        callback.kind == CALLBACK,
        callback.disposition == "reached",
        callback.start_epoch >= start_epoch,
    )
    return or_(
        r.linkedid.in_(reached),
        exists().where(CallbackTask.uniqueid == r.linkedid, CallbackTask.status == "done"),
    )


def _to_queue_buckets(column: Any) -> list[Any]:
    """How many calls took at most each of TO_QUEUE_EDGES to reach a queue: cumulative
    counts, one plain comparison each (`buckets_of` takes them apart into
    `count_into`'s buckets: a value equal to an edge is in that edge's bucket)."""
    return [_count(column <= edge) for edge in TO_QUEUE_EDGES]


def _count(condition: ColumnElement[bool]) -> Any:
    # FILTER (PostgreSQL, SQLite >= 3.30) rather than SUM(CASE ... THEN 1 ELSE 0): no
    # per-row CASE, and no bound 1s and 0s for a prepared statement to carry around
    return func.count().filter(condition)


async def _plan_for_this_range(session: AsyncSession) -> None:
    """On PostgreSQL, plan the aggregate for the range it is run with. asyncpg prepares
    each statement once per connection, and from its sixth run PostgreSQL may use a
    generic plan that does not know how much of the table the range covers: the day's
    figures took 40 % longer with it (bench: kpi_day_query_ms). Planning one aggregate
    costs under a millisecond."""
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


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
    called_back = called_back_since(start_epoch)
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
        func.sum(_ms(r.wait_s)).filter(answered),
        _count(and_(answered, r.wait_s.is_not(None))),
        func.sum(_ms(r.talk_s + r.wrapup_s)).filter(answered),
        _count(r.rating.is_not(None)),
        _count(r.rating.in_(SATISFIED)),
        _count(and_(abandoned, called_back)),
        func.sum(_ms(r.queued_after_s)),
        func.count(r.queued_after_s),
        *_to_queue_buckets(r.queued_after_s),
    ).where(r.start_epoch >= start_epoch, r.start_epoch < end_epoch, r.kind != CALLBACK)
    if group in INTAKE_GROUPS:
        i = CallIntake
        query = query.select_from(r).outerjoin(
            i, and_(i.node == r.node, i.linkedid == r.linkedid, i.current.is_(True))
        )
    grouping = [k for k, used in ((keys[0], period), (keys[1], group)) if used]
    if grouping:
        query = query.group_by(*grouping).order_by(*grouping)
    await _plan_for_this_range(session)
    out = []
    for row in (await session.execute(query)).all():
        start, grp, *sums = row
        if sums[0] == 0 and not grouping:
            start = None
        tally = Tally(
            calls=int(sums[0]),
            offered=int(sums[1]),
            answered=int(sums[2]),
            answered_15s=int(sums[3]),
            abandoned=int(sums[4]),
            short_abandoned=int(sums[5]),
            wait_ms=int(sums[6] or 0),
            wait_n=int(sums[7]),
            handle_ms=int(sums[8] or 0),
            rated=int(sums[9]),
            satisfied=int(sums[10]),
            callbacks_reached=int(sums[11]),
            to_queue_ms=int(sums[12] or 0),
            to_queue_n=int(sums[13]),
            to_queue_hist=buckets_of(int(sums[13]), [int(n) for n in sums[14:]]),
        )
        out.append(
            tally.row(
                int(start) if start is not None else None,
                str(grp) if grp is not None else None,
            )
        )
    return out
