"""KPIs from call records: `GET /api/v1/stats/kpis` (any range, per queue / unit / seat
/ number, per 15 min / hour / day) and `GET /api/v1/stats/today` (the city day so far,
per queue: counters that survive a service restart or an AMI reconnect because they
are read from the database, unlike app_queue's own).

Every rate comes with its numerator and denominator, named in the field descriptions
(DOMAIN.md "KPIs").
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require_roles
from api.calls import epoch
from api.city import City, OptionalStamp, time_query, written
from api.services import call_records
from callcenter.clock import SHANGHAI, CityTime
from callcenter.records import kpi
from callcenter.records.query import MAX_EPOCH
from callcenter.records.store import RecordStore
from callcenter.tokens import Principal, Role

router = APIRouter(prefix="/api/v1/stats", tags=["stats"])
readers = require_roles(Role.SUPERVISOR, Role.INTEGRATION)
Records = Annotated[RecordStore, Depends(call_records)]


class Kpis(BaseModel):
    period_start: OptionalStamp = Field(
        description="the start of the period (its city-time bucket); ISO 8601, city time with "
        "offset; null: the whole range"
    )
    group: str | None = Field(description="the queue / unit / seat / number; null: all calls")
    calls: int = Field(description="every call started in the range, IVR-only included")
    offered: int = Field(description="calls that reached a queue (IVR-only, refused excluded)")
    answered: int = Field(description="offered calls an agent answered")
    answered_15s: int = Field(description="answered calls that waited <= 15 s")
    abandoned: int = Field(description="callers who hung up in queue after > 5 s")
    short_abandoned: int = Field(description="callers who hung up in queue within 5 s")
    answer_rate: float | None = Field(description="接通率 = answered ÷ offered")
    sl15: float | None = Field(
        description="service level = answered_15s ÷ offered (abandons count against)"
    )
    sl15_of_answered: float | None = Field(description="answered_15s ÷ answered")
    abandon_rate: float | None = Field(description="abandoned (> 5 s) ÷ offered")
    asa_s: float | None = Field(description="mean wait of answered calls, seconds")
    aht_s: float | None = Field(description="mean talk + wrap-up of answered calls, seconds")
    rated: int = Field(description="calls with a survey rating")
    satisfied: int = Field(description="ratings 满意 or 基本满意")
    satisfaction: float | None = Field(description="satisfied ÷ rated")
    callbacks_reached: int = Field(
        description="callers who hung up in queue (any wait) and were reached by a callback"
    )
    callback_completion: float | None = Field(
        description="callbacks_reached ÷ (abandoned + short_abandoned)"
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "period_start": "2026-11-26T08:00:00+08:00",
                    "group": "hotline-housing",
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
                }
            ]
        }
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
            rows = await kpi.compute(session, start, end, group, period)
        except kpi.KpiQueryError as exc:
            raise HTTPException(422, str(exc)) from None
    return [written(Kpis, r, city) for r in rows]


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
        Literal["queue", "unit", "seat", "number"] | None,
        Query(description="one row per queue / unit / seat / dialed number; absent: all calls"),
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


@router.get("/today", response_model=list[Kpis], summary="The city day so far, per queue")
async def today(
    principal: Annotated[Principal, Depends(readers)], records: Records, city: City
) -> list[Kpis]:
    day_start = SHANGHAI.day_start(time.time())
    return await _compute(records, city, day_start, day_start + 86400, "queue", None)
