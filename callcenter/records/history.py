"""What the call records remember that routing, the seat figures and the agent's screen
pop ask for: when a caller last reached a queue (the repeat-caller rule), the calls and
talk time each seat took, and a caller's past calls with their intake (`history_of`).

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

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.clock import as_utc
from callcenter.records.kpi import CALLBACK
from callcenter.records.models import CallIntake, CallRecord


@dataclass(frozen=True, slots=True)
class SeatWork:
    """The calls a seat answered and their talk time, over a period."""

    calls: int = 0
    talk_s: float = 0.0


#: the most past calls `history_of` gives
HISTORY_LIMIT = 100


@dataclass(frozen=True, slots=True)
class PastCall:
    """One earlier call of a caller, as the screen pop lists it."""

    call: str  # `<node>:<Linkedid>`
    started_at: datetime
    disposition: str  # the record's outcome: answered, abandoned, ...
    kind: str | None  # the intake's kind; None: not classified
    unit: str | None  # the unit the matter concerned (intake); None: not classified
    ticket: str | None  # the province platform's ticket, if linked


async def history_of(
    session: AsyncSession,
    caller: str,
    since: datetime,
    limit: int,
    *,
    reaches_confidential: bool = False,
) -> list[PastCall]:
    """The calls of `caller` started at or after `since`, newest first, at most `limit`
    (1..HISTORY_LIMIT), with their current intake. Callbacks the service placed are not
    the caller's calls. A confidential call is left out unless `reaches_confidential`
    (callcenter.privacy `filter_reaches_confidential`): listing it beside a caller's
    number would tell whoever sees the number that this caller made a report."""
    if not 1 <= limit <= HISTORY_LIMIT:
        raise ValueError(f"limit: {limit} is not within 1..{HISTORY_LIMIT}")
    if not caller:
        return []
    r, i = CallRecord, CallIntake
    query = (
        select(r.node, r.linkedid, r.started_at, r.disposition, i.kind, i.unit, i.ticket)
        .select_from(r)
        .outerjoin(i, and_(i.node == r.node, i.linkedid == r.linkedid, i.current.is_(True)))
        .where(r.caller == caller, r.start_epoch >= int(since.timestamp()), r.kind != CALLBACK)
        .order_by(r.start_epoch.desc(), r.node.desc(), r.linkedid.desc())
        .limit(limit)
    )
    if not reaches_confidential:
        query = query.where(r.confidential.is_(False))
    return [
        PastCall(f"{node}:{linkedid}", as_utc(started), disposition, kind, unit, ticket)
        for node, linkedid, started, disposition, kind, unit, ticket in await session.execute(query)
    ]


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

    async def history_of(
        self, caller: str, since: datetime, limit: int, *, reaches_confidential: bool = False
    ) -> list[PastCall]:
        """`history_of` in a session of its own."""
        async with self._sessions() as session:
            return await history_of(
                session, caller, since, limit, reaches_confidential=reaches_confidential
            )
