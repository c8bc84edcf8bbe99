"""What the call records remember that routing and the seat figures ask for: when a
caller last reached a queue (the repeat-caller rule) and the calls and talk time each
seat took.

Every instance writes the same records (an upsert keyed by node and Linkedid), so these
answers are the same on every instance and survive a restart; nothing of it is kept in
one process. `CallerHistory` and `SeatWork` are the ways other packages ask (queues
may not read the records' tables); `SqlHistory` answers both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.clock import as_utc
from callcenter.records.kpi import CALLBACK
from callcenter.records.models import CallRecord


@dataclass(frozen=True, slots=True)
class SeatWork:
    """The calls a seat answered and their talk time, over a period."""

    calls: int = 0
    talk_s: float = 0.0


class CallerHistory(Protocol):
    async def last_queued(self, caller: str, since_epoch: float) -> float | None:
        """When (epoch seconds) the latest call of `caller` that reached a queue
        started, if one started at or after `since_epoch`; callbacks the service placed
        are not the caller's calls."""
        ...


class SeatWorkHistory(Protocol):
    async def seat_work(
        self, since: datetime, until: datetime, seat_ids: Sequence[str] | None = None
    ) -> dict[str, SeatWork]:
        """Per seat, the calls it answered that ended in [since, until) and their talk
        time. A callback the seat placed is not a call it took: it is left out."""
        ...


class RecordsHistory(CallerHistory, SeatWorkHistory, Protocol):
    """Both questions, as one object the seats side is given."""


class SqlHistory:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def last_queued(self, caller: str, since_epoch: float) -> float | None:
        if not caller:
            return None
        r = CallRecord
        query = select(func.max(r.start_epoch)).where(
            r.caller == caller,
            r.start_epoch >= since_epoch,
            r.queue != "",
            r.kind != CALLBACK,
        )
        async with self._sessions() as session:
            last = await session.scalar(query)
        return None if last is None else float(last)

    async def seat_work(
        self, since: datetime, until: datetime, seat_ids: Sequence[str] | None = None
    ) -> dict[str, SeatWork]:
        r = CallRecord
        query = (
            select(r.seat, func.count(), func.coalesce(func.sum(r.talk_s), 0.0))
            .where(
                r.seat != "",
                r.ended_at >= as_utc(since),
                r.ended_at < as_utc(until),
                r.kind != CALLBACK,
            )
            .group_by(r.seat)
        )
        if seat_ids is not None:
            query = query.where(r.seat.in_(list(seat_ids)))
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return {seat: SeatWork(int(calls), float(talk)) for seat, calls, talk in rows}
