"""What the IVR records: survey ratings and callback requests.

The flows see only the `IvrRecorder` protocol; `SqlIvrRecorder` is the real one (tables
of migration 0004). These tables stay the system of record for what the IVR heard; the
call record (callcenter/records) takes the rating and the callback request from them by
the caller channel's uniqueid (the call's Linkedid) when it is written, and a rating
given after the record was written (the survey runs after the agent hung up, and the
record may be flushed first) updates the record here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.records import models
from callcenter.records.locks import lock_calls
from callcenter.records.models import CallRecord

log = logging.getLogger(__name__)

RATINGS = {1: "满意", 2: "基本满意", 3: "不满意"}


@dataclass(frozen=True, slots=True)
class Rating:
    uniqueid: str
    rating: int
    caller: str
    queue: str
    unit: str
    agent: str


@dataclass(frozen=True, slots=True)
class Callback:
    uniqueid: str
    caller: str
    dialed: str
    queue: str
    unit: str
    estimated_wait_s: float


class IvrRecorder(Protocol):
    async def record_rating(self, rating: Rating) -> bool:
        """Store a rating; False if this call was already rated (kept as first given)."""
        ...

    async def record_callback(self, callback: Callback) -> bool:
        """Store a callback request; False if this call already asked for one."""
        ...


class SqlIvrRecorder:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]
    ) -> None:
        self.sessions = sessions
        self.clock = clock

    async def _insert(
        self, row: models.SurveyResult | models.CallbackRequest, rating: int | None = None
    ) -> bool:
        try:
            async with self.sessions() as session, session.begin():
                await lock_calls(session, [row.uniqueid])
                session.add(row)
                await session.flush()  # a duplicate fails here, before the record changes
                if rating is not None:
                    await session.execute(
                        update(CallRecord)
                        .where(CallRecord.linkedid == row.uniqueid, CallRecord.rating.is_(None))
                        .values(rating=rating)
                    )
        except IntegrityError:
            log.info("IVR record for %s already stored; kept the first", row.uniqueid)
            return False
        return True

    async def record_rating(self, rating: Rating) -> bool:
        if rating.rating not in RATINGS:
            raise ValueError(f"rating must be 1, 2 or 3, got {rating.rating}")
        return await self._insert(
            models.SurveyResult(
                uniqueid=rating.uniqueid,
                rating=rating.rating,
                caller=rating.caller[:40],
                queue=rating.queue[:48],
                unit=rating.unit[:32],
                agent=rating.agent[:80],
                created_at=self.clock(),
            ),
            rating.rating,
        )

    async def record_callback(self, callback: Callback) -> bool:
        return await self._insert(
            models.CallbackRequest(
                uniqueid=callback.uniqueid,
                caller=callback.caller[:40],
                dialed=callback.dialed[:40],
                queue=callback.queue[:48],
                unit=callback.unit[:32],
                estimated_wait_s=callback.estimated_wait_s,
                status="open",
                created_at=self.clock(),
            )
        )

    async def ratings(self) -> list[models.SurveyResult]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(models.SurveyResult).order_by(models.SurveyResult.created_at)
            )
            return list(rows)

    async def open_callbacks(self) -> list[models.CallbackRequest]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(models.CallbackRequest)
                .where(models.CallbackRequest.status == "open")
                .order_by(models.CallbackRequest.created_at)
            )
            return list(rows)
