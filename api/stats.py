"""KPIs from call records: `GET /api/v1/stats/kpis` (any range, per queue / seat /
number / dialed unit, per intake kind and unit the matter concerns, per 15 min / hour /
day) and `GET /api/v1/stats/today` (the city day so far,
per queue, for the centre and by hour: records.today's one view of finished calls and
calls in progress, which survives a restart or an AMI reconnect and is the same on
every instance, unlike app_queue's own counters).

Every rate comes with its numerator and denominator, named in the field descriptions
(DOMAIN.md "KPIs").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import Field

from api.auth import require_roles
from api.calls import epoch
from api.city import City, time_query
from api.services import call_records, day_book
from callcenter.clock import CityTime
from callcenter.legacy.queues import directory_name
from callcenter.records import kpi
from callcenter.records.kpi import Figures, figures_of
from callcenter.records.query import MAX_EPOCH
from callcenter.records.store import RecordStore
from callcenter.records.today import DayBook
from callcenter.tokens import Principal, Role

router = APIRouter(prefix="/api/v1/stats", tags=["stats"])
readers = require_roles(Role.SUPERVISOR, Role.INTEGRATION)
Records = Annotated[RecordStore, Depends(call_records)]


@dataclass(frozen=True, slots=True, kw_only=True)
class Kpis(Figures):
    """One group's figures in one period."""

    period_start: Annotated[
        str | None,
        Field(
            description="start of the period (city-time bucket), ISO 8601 with the city's "
            "offset; null: the whole range"
        ),
    ] = None
    group: Annotated[
        str | None,
        Field(
            description="the queue (its directory name) / seat / number / dialed unit / "
            "intake kind / intake unit (`unclassified`: calls without an intake); null: all "
            "calls"
        ),
    ] = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HourToday(Kpis):
    """One city hour of today, for the wallboard's trend."""

    waiting_peak: Annotated[
        int, Field(description="the most callers waiting at one moment in the hour")
    ] = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Today:
    """The city day so far: finished calls (the records) and calls in progress, once."""

    date: Annotated[str, Field(description="the city date, YYYY-MM-DD")]
    as_of: Annotated[str, Field(description="when, ISO 8601 with the city's offset")]
    timezone: Annotated[str, Field(description="the city's time zone (IANA)")]
    in_progress: Annotated[int, Field(description="calls in progress counted in the figures")]
    centre: Annotated[Kpis, Field(description="the whole centre (全中心)")]
    queues: Annotated[list[Kpis], Field(description="one row per queue (`group`)")]
    hours: Annotated[list[HourToday], Field(description="one row per city hour so far")]


#: one day's figures of a queue, as every figures example shows them
FIGURES_EXAMPLE = {
    "calls": 412,
    "offered": 380,
    "answered": 351,
    "answered_15s": 297,
    "abandoned": 21,
    "short_abandoned": 8,
    "answer_rate": 0.9237,
    "sl15": 0.7816,
    "sl15_of_answered": 0.8462,
    "abandon_rate": 0.0553,
    "asa_s": 11.4,
    "aht_s": 236.8,
    "rated": 190,
    "satisfied": 176,
    "satisfaction": 0.9263,
    "callbacks_reached": 17,
    "callback_completion": 0.5862,
    "time_to_queue_s": 4.6,
    "time_to_queue_p90_s": 6.0,
}
_KPIS = {"period_start": "2026-11-26T09:00:00+08:00", "group": "housing", **FIGURES_EXAMPLE}

#: examples of the dataclass response types, by schema name (api/openapi.py puts them in
#: the document; tests/api/test_openapi_contract.py validates them)
EXAMPLES: dict[str, dict[str, Any]] = {
    "Kpis": _KPIS,
    "HourToday": {**_KPIS, "group": None, "waiting_peak": 7},
    "Today": {
        "date": "2026-11-26",
        "as_of": "2026-11-26T23:12:04+08:00",
        "timezone": "Asia/Shanghai",
        "in_progress": 9,
        "centre": {**_KPIS, "period_start": None, "group": None},
        "queues": [{**_KPIS, "period_start": None}],
        "hours": [{**_KPIS, "group": None, "waiting_peak": 7}],
    },
}


def _out(row: kpi.KpiRow, city: CityTime, group: str | None) -> Kpis:
    """`group`: what the rows are grouped by; a queue is shown by its directory name."""
    return Kpis(
        period_start=city.iso_or_none(row.period_start),
        group=directory_name(row.group) if group == "queue" and row.group else row.group,
        **figures_of(row),
    )


async def _compute(
    records: RecordStore,
    city: CityTime,
    start: int,
    end: int,
    group: str | None,
    period: str | None,
) -> list[Kpis]:
    async with records.sessions() as session:
        try:
            rows = await kpi.compute(session, start, end, group, period, city)
        except kpi.KpiQueryError as exc:
            raise HTTPException(422, str(exc)) from None
    return [_out(r, city, group) for r in rows]


@router.get("/kpis", response_model=list[Kpis], summary="KPIs of calls started in a range")
async def kpis(
    principal: Annotated[Principal, Depends(readers)],
    records: Records,
    city: City,
    start: Annotated[
        datetime, time_query("start", "from (inclusive)", "2026-12-02", required=True)
    ],
    end: Annotated[datetime, time_query("end", "to (exclusive)", "2026-12-03", required=True)],
    group: Annotated[
        Literal["queue", "seat", "number", "dialed_unit", "kind", "unit", "source"] | None,
        Query(
            description="one row per queue / seat / dialed number / unit of the dialed "
            "number (`dialed_unit`) / intake kind (`kind`: consultation, help, opinion, "
            "suggestion, complaint, report) / unit the matter concerns (`unit`, the "
            "agent's intake); a call without an intake is in the group `unclassified`; "
            "who handed the call over (`source`: direct, 110); absent: all calls"
        ),
    ] = None,
    period: Annotated[
        Literal["15min", "hour", "day"] | None,
        Query(description="one row per period (city time); absent: the whole range"),
    ] = None,
) -> list[Kpis]:
    first, last = epoch(start), epoch(end)
    if last <= first:
        raise HTTPException(422, "end: must be after start")
    if not 0 <= first < MAX_EPOCH or last >= MAX_EPOCH:
        raise HTTPException(422, "start, end: out of range")
    return await _compute(records, city, first, last, group, period)


@router.get(
    "/today",
    response_model=Today,
    summary="The city day so far: per queue, the whole centre, by hour",
    description="Finished calls (the records) and calls in progress, each counted once: "
    "the same figures as `GET /queues/{name}`'s `today`, the live stream's rows and the "
    "wallboard, on every service instance.",
)
async def today(
    principal: Annotated[Principal, Depends(readers)],
    day: Annotated[DayBook, Depends(day_book)],
) -> Today:
    view = day.view()
    city = day.city
    return Today(
        date=city.date_of(view.day_start),
        as_of=city.iso(view.as_of),
        timezone=city.name,
        in_progress=view.in_progress,
        centre=Kpis(**figures_of(view.centre)),
        queues=[
            Kpis(group=directory_name(name), **figures_of(f)) for name, f in view.queues.items()
        ],
        hours=[
            HourToday(
                period_start=city.iso(h.hour_start),
                waiting_peak=h.waiting_peak,
                **figures_of(h.figures),
            )
            for h in view.hours
        ],
    )
