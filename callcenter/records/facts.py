"""Facts about a call that other parts learn: a survey rating and a callback request
(the IVR), a confidential mark (the API, on the caller's request, or a report 举报
classified at intake: intake.py, which uses `store_mark` in its own transaction).

`CallFacts` is the one way other packages add such a fact; `SqlCallFacts` is the real
one. The fact tables (models.py: ivr_survey_results, ivr_callback_requests,
call_confidential_marks) stay the system of record for them, keyed by the call's
Linkedid (the caller channel's uniqueid). A fact may come before the call's record is
written (the call is in progress, or its record waits in the spool) or after it (the
survey runs after the agent hung up). Both sides fold in the other's: the record writer
reads the facts while upserting (`known_facts`, called by store.py), and a fact stored
after the record was written updates the record here; locks.py keeps the two in order.

The callback worklist's own table (callback_tasks) is behind `CallbackTasks`
(callback_tasks.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import (
    ColumnElement,
    SmallInteger,
    String,
    any_,
    bindparam,
    cast,
    literal,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import QueryableAttribute

from callcenter.records import models
from callcenter.records.locks import lock_calls
from callcenter.records.models import CallRecord

log = logging.getLogger(__name__)

RATINGS = {1: "满意", 2: "基本满意", 3: "不满意"}


@dataclass(frozen=True, slots=True)
class RatingFact:
    """The post-call survey's answer (RATINGS)."""

    uniqueid: str
    rating: int
    caller: str
    queue: str
    unit: str
    agent: str


@dataclass(frozen=True, slots=True)
class CallbackRequestFact:
    """A waiting caller took the IVR's callback offer (virtual hold)."""

    uniqueid: str
    caller: str
    dialed: str
    queue: str
    unit: str
    estimated_wait_s: float


@dataclass(frozen=True, slots=True)
class ConfidentialMarkFact:
    """Who marked a call confidential, when and why. One-way: a mark is never taken
    back, and marking twice keeps the first mark."""

    node: str
    linkedid: str
    by: str
    reason: str
    at: datetime


class CallFacts(Protocol):
    async def record_rating(self, rating: RatingFact) -> bool:
        """Store a rating; False if this call was already rated (kept as first given)."""
        ...

    async def request_callback(self, request: CallbackRequestFact) -> bool:
        """Store a callback request; False if this call already asked for one."""
        ...

    async def mark_confidential(self, mark: ConfidentialMarkFact) -> bool:
        """Mark the call confidential (kept: its record may not be written yet), mask
        its record if it is there and the call in progress if it still runs; True if
        the record was there."""
        ...


#: (node, linkedid) -> mark the call in progress, if it still runs (the record builder)
InProgressMark = Callable[[str, str], object]


def _no_call_in_progress(node: str, linkedid: str) -> object:
    return None


class SqlCallFacts:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime],
        in_progress: InProgressMark = _no_call_in_progress,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.in_progress = in_progress

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

    async def record_rating(self, rating: RatingFact) -> bool:
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

    async def request_callback(self, request: CallbackRequestFact) -> bool:
        return await self._insert(
            models.CallbackRequest(
                uniqueid=request.uniqueid,
                caller=request.caller[:40],
                dialed=request.dialed[:40],
                queue=request.queue[:48],
                unit=request.unit[:32],
                estimated_wait_s=request.estimated_wait_s,
                status="open",
                created_at=self.clock(),
            )
        )

    async def mark_confidential(self, mark: ConfidentialMarkFact) -> bool:
        async with self.sessions() as session, session.begin():
            await lock_calls(session, [mark.linkedid])
            written = await store_mark(session, mark)
        # the call in progress masks its caller now (/calls/active); its record is
        # written masked anyway, from the stored mark
        self.in_progress(mark.node, mark.linkedid)
        return written

    # --- reads (reports and tests) -----------------------------------------------------
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


async def store_mark(session: AsyncSession, mark: ConfidentialMarkFact) -> bool:
    """Store `mark` (the first one stays) and mask the record if it is written, inside
    the caller's transaction, after `lock_calls` on the call; True if the record was
    there. The call in progress is the caller's to mask once the transaction is in."""
    known = await session.get(models.ConfidentialMark, (mark.node, mark.linkedid))
    if known is None:
        session.add(
            models.ConfidentialMark(
                node=mark.node,
                linkedid=mark.linkedid,
                marked_at=mark.at,
                marked_by=mark.by[:100],
                reason=mark.reason[:200],
            )
        )
    result = await session.execute(
        update(CallRecord)
        .where(CallRecord.node == mark.node, CallRecord.linkedid == mark.linkedid)
        .values(confidential=True)
    )
    return bool(getattr(result, "rowcount", 0))


@dataclass(frozen=True, slots=True)
class KnownFacts:
    """The facts stored so far about a batch of calls, for the record writer."""

    marked: frozenset[tuple[str, str]]  # (node, linkedid)
    ratings: dict[str, int]  # linkedid -> rating
    callback_requested: frozenset[str]  # linkedids


async def known_facts(session: AsyncSession, linkedids: Iterable[str]) -> KnownFacts:
    """Read inside the writer's transaction, after `lock_calls` on the same Linkedids."""
    ids = list(linkedids)
    postgres = session.get_bind().dialect.name == "postgresql"

    def among(column: QueryableAttribute[str]) -> ColumnElement[bool]:
        # on PostgreSQL one array parameter: one statement text whatever the batch's
        # size (an IN list is rendered anew, and prepared anew, for every length)
        if postgres:
            return column == any_(bindparam("ids", ids, type_=postgresql.ARRAY(String)))
        return column.in_(ids)

    # the three fact tables in one round trip: (kind, node, linkedid, rating)
    facts = union_all(
        select(
            literal("mark"),
            models.ConfidentialMark.node,
            models.ConfidentialMark.linkedid,
            cast(null(), SmallInteger),
        ).where(among(models.ConfidentialMark.linkedid)),
        select(
            literal("rating"),
            literal(""),
            models.SurveyResult.uniqueid,
            models.SurveyResult.rating,
        ).where(among(models.SurveyResult.uniqueid)),
        select(
            literal("callback"),
            literal(""),
            models.CallbackRequest.uniqueid,
            cast(null(), SmallInteger),
        ).where(among(models.CallbackRequest.uniqueid)),
    )
    marked: set[tuple[str, str]] = set()
    ratings: dict[str, int] = {}
    requested: set[str] = set()
    for kind, node, linkedid, rating in await session.execute(facts):
        if kind == "mark":
            marked.add((node, linkedid))
        elif kind == "rating":
            ratings[linkedid] = rating
        else:
            requested.add(linkedid)
    return KnownFacts(
        marked=frozenset(marked), ratings=ratings, callback_requested=frozenset(requested)
    )
