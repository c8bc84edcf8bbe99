"""The callback worklist's table: who is owed a call back, and what became of it.

`CallbackTasks` is the one way other packages read or change it; `SqlCallbackTasks` is
the real one. The worklist (queues/callbacks.py) keeps the policy: who gets on the list,
when a task's turn comes, which seat calls, how long before a retry. This module keeps
the task's states and their moves:

    open -> calling (claimed) -> done | open (retry, or the seat missed) | failed
    open | failed -> cancelled;  failed -> open (a supervisor's new attempt)

Every move is a conditional write, so two service instances never claim the same task.
Times are the caller's (`at`): the worklist runs on PBX time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Protocol

from sqlalchemy import select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.records.models import CallbackRequest, CallbackTask

OPEN, CALLING, DONE, FAILED, CANCELLED = "open", "calling", "done", "failed", "cancelled"
ABANDONED, VIRTUAL_HOLD = "abandoned", "virtual_hold"


@dataclass(frozen=True, slots=True)
class CallbackTaskFact:
    """One task as stored (models.CallbackTask's columns)."""

    id: int
    uniqueid: str  # the original call
    source: str  # abandoned | virtual_hold
    caller: str
    queue: str
    waited_s: float
    priority: int
    status: str
    attempts: int
    max_attempts: int
    due_at: datetime  # its place in line
    assigned_seat: str | None
    outcome: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class NewCallbackTask:
    uniqueid: str
    source: str
    caller: str
    queue: str
    waited_s: float
    priority: int
    max_attempts: int
    due_at: datetime


_FIELDS = tuple(f.name for f in fields(CallbackTaskFact))


def _fact(row: CallbackTask) -> CallbackTaskFact:
    return CallbackTaskFact(*(getattr(row, name) for name in _FIELDS))


class CallbackTasks(Protocol):
    async def requested(self, uniqueid: str) -> bool:
        """Whether this call's caller took the IVR's callback offer and it is still open
        (virtual hold)."""
        ...

    async def add(self, task: NewCallbackTask, at: datetime) -> int | None:
        """Put a call on the worklist; its id, or None if that call is already on it
        (a replayed event, a second instance)."""
        ...

    async def tasks(
        self, status: str | None = None, limit: int = 500, after: tuple[datetime, int] | None = None
    ) -> list[CallbackTaskFact]:
        """Tasks in line order (due_at, then id); `after` such a pair reads the next page
        (keyset)."""
        ...

    async def due(self, at: datetime) -> list[CallbackTaskFact]:
        """Open tasks due by `at`, in line order."""
        ...

    async def assign(
        self, task_id: int, seat_id: str | None, at: datetime
    ) -> CallbackTaskFact | None:
        """Only `seat_id` will make this call (None: any seat of its queue); a failed task
        gets one more attempt, due now. None if there is no such task; ValueError if it
        is neither open nor failed."""
        ...

    async def cancel(self, task_id: int, why: str, at: datetime) -> bool:
        """Nobody will call this one; False unless it was open or failed."""
        ...

    async def claim(self, task_id: int, at: datetime) -> bool:
        """open -> calling, counting an attempt; False if another took it first."""
        ...

    async def reopen_stuck(self, calling_since: datetime, at: datetime) -> int:
        """Tasks left `calling` since before `calling_since` (their instance died
        mid-call) go back in line; how many."""
        ...

    async def finish_attempt(
        self,
        task_id: int,
        outcome: str,
        *,
        answered: bool,
        seat_missed: bool,
        retry_at: datetime,
        at: datetime,
    ) -> None:
        """The end of a claimed attempt: done if the caller answered; back in line at the
        same place, the attempt not counted, if the seat missed it; else failed once the
        attempts are spent, or open again at `retry_at`."""
        ...


#: called in the transaction that marks a callback done (announce.py: the webhooks outbox)
CallbackDone = Callable[[AsyncSession, CallbackTaskFact], Awaitable[None]]


class SqlCallbackTasks:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], done: CallbackDone | None = None
    ) -> None:
        self.sessions = sessions
        self.done = done

    async def requested(self, uniqueid: str) -> bool:
        async with self.sessions() as session:
            request = await session.get(CallbackRequest, uniqueid)
        return request is not None and request.status == "open"

    async def add(self, task: NewCallbackTask, at: datetime) -> int | None:
        row = CallbackTask(
            uniqueid=task.uniqueid,
            source=task.source,
            caller=task.caller[:40],
            queue=task.queue[:48],
            waited_s=task.waited_s,
            priority=task.priority,
            status=OPEN,
            attempts=0,
            max_attempts=task.max_attempts,
            due_at=task.due_at,
            outcome="",
            created_at=at,
            updated_at=at,
        )
        try:
            async with self.sessions.begin() as session:
                session.add(row)
                await session.flush()
                return row.id
        except IntegrityError:
            return None

    async def tasks(
        self, status: str | None = None, limit: int = 500, after: tuple[datetime, int] | None = None
    ) -> list[CallbackTaskFact]:
        query = select(CallbackTask).order_by(CallbackTask.due_at, CallbackTask.id).limit(limit)
        if status is not None:
            query = query.where(CallbackTask.status == status)
        if after is not None:
            query = query.where(tuple_(CallbackTask.due_at, CallbackTask.id) > after)
        async with self.sessions() as session:
            return [_fact(row) for row in await session.scalars(query)]

    async def due(self, at: datetime) -> list[CallbackTaskFact]:
        query = (
            select(CallbackTask)
            .where(CallbackTask.status == OPEN, CallbackTask.due_at <= at)
            .order_by(CallbackTask.due_at)
        )
        async with self.sessions() as session:
            return [_fact(row) for row in await session.scalars(query)]

    async def assign(
        self, task_id: int, seat_id: str | None, at: datetime
    ) -> CallbackTaskFact | None:
        async with self.sessions.begin() as session:
            task = await session.get(CallbackTask, task_id)
            if task is None:
                return None
            if task.status not in (OPEN, FAILED):
                raise ValueError(f"callback {task_id} is {task.status}; only open ones move")
            task.assigned_seat = seat_id
            task.updated_at = at
            if task.status == FAILED:  # a supervisor gives it another go
                task.status, task.max_attempts = OPEN, task.attempts + 1
                task.due_at = at
            return _fact(task)

    async def cancel(self, task_id: int, why: str, at: datetime) -> bool:
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(CallbackTask)
                .where(CallbackTask.id == task_id, CallbackTask.status.in_([OPEN, FAILED]))
                .values(status=CANCELLED, outcome=why[:200], updated_at=at)
            )
            return bool(getattr(result, "rowcount", 0))

    async def claim(self, task_id: int, at: datetime) -> bool:
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(CallbackTask)
                .where(CallbackTask.id == task_id, CallbackTask.status == OPEN)
                .values(status=CALLING, attempts=CallbackTask.attempts + 1, updated_at=at)
            )
            return bool(getattr(result, "rowcount", 0))

    async def reopen_stuck(self, calling_since: datetime, at: datetime) -> int:
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(CallbackTask)
                .where(CallbackTask.status == CALLING, CallbackTask.updated_at < calling_since)
                .values(status=OPEN, outcome="call attempt interrupted", updated_at=at)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    async def finish_attempt(
        self,
        task_id: int,
        outcome: str,
        *,
        answered: bool,
        seat_missed: bool,
        retry_at: datetime,
        at: datetime,
    ) -> None:
        async with self.sessions.begin() as session:
            row = await session.get(CallbackTask, task_id)
            if row is None:
                return
            row.outcome, row.updated_at = outcome[:200], at
            if answered:
                row.status = DONE
                if self.done is not None:
                    await self.done(session, _fact(row))
            elif seat_missed:
                # not the caller's attempt: back in line at the same place
                row.status, row.attempts = OPEN, max(0, row.attempts - 1)
            elif row.attempts >= row.max_attempts:
                row.status = FAILED
            else:
                row.status = OPEN
                row.due_at = retry_at
