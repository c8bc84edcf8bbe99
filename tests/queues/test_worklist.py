"""The callback worklist in the database (SQLite and PostgreSQL): who gets on it, how a
supervisor moves it, and a call attempt interrupted by a dying instance."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.live.live_state import LiveState
from callcenter.records.callback_tasks import SqlCallbackTasks
from callcenter.records.facts import CallbackRequestFact, SqlCallFacts
from callcenter.records.models import CallbackTask
from queues.callbacks import CallbackPolicy, CallbackWorklist, callable_number
from queues.watcher import Abandoned

T0 = 1_795_000_000.0


class Clock:
    now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


def gone(uid: str, caller: str, hold_s: float, joined_at: float = T0 - 30) -> Abandoned:
    return Abandoned("pbx1", uid, "hotline-housing", caller, hold_s, joined_at, 1)


async def test_intake_assign_cancel_and_unstick(engine: AsyncEngine) -> None:
    clock = Clock()
    worklist = CallbackWorklist(
        SqlCallbackTasks(session_factory(engine)),
        LiveState(clock),
        CallbackPolicy(min_wait_s=5.0),
        {}.get,
        {},
    )
    assert [callable_number(n) for n in ("13900001111", "+8613900001111", "anonymous", "12")] == [
        True,
        True,
        False,
        False,
    ]
    await worklist.on_abandoned(gone("u1", "13900000001", 4.0))  # too short
    await worklist.on_abandoned(gone("u2", "unknown", 60.0))  # nobody to call
    await worklist.on_abandoned(gone("u3", "13900000003", 6.0))
    await worklist.on_abandoned(gone("u3", "13900000003", 6.0))  # replayed: once
    recorder = SqlCallFacts(session_factory(engine), lambda: datetime.now(UTC))
    await recorder.request_callback(
        CallbackRequestFact("u4", "13900000004", "12345", "hotline-housing", "", 1)
    )
    await worklist.on_abandoned(gone("u4", "13900000004", 2.0, joined_at=T0 - 90))  # held
    rows = {t.uniqueid: t for t in await worklist.tasks()}
    assert sorted(rows) == ["u3", "u4"]
    held, abandoned = rows["u4"], rows["u3"]
    assert held.source == "virtual_hold" and abandoned.source == "abandoned"
    # the held caller's place is when they joined, ahead of the later abandon
    assert [t.uniqueid for t in await worklist.tasks("open")] == ["u4", "u3"]
    assert held.due_at.replace(tzinfo=UTC).timestamp() == T0 - 90
    assert held.priority == 1 and held.max_attempts == 3

    assigned = await worklist.assign(abandoned.id, "1002")
    assert assigned is not None and assigned.assigned_seat == "1002"
    assert await worklist.assign(999, "1002") is None
    assert await worklist.cancel(abandoned.id, "resolved by SMS")
    with pytest.raises(ValueError, match="cancelled"):
        await worklist.assign(abandoned.id, None)

    # an instance died while calling u4: much later it goes back in line
    async with session_factory(engine).begin() as session:
        await session.execute(
            update(CallbackTask)
            .where(CallbackTask.id == held.id)
            .values(status="calling", updated_at=datetime.fromtimestamp(T0, UTC))
        )
    clock.now = T0 + 60
    await worklist.dispatch_once()  # no PBX: nothing can start
    assert (await worklist.tasks("calling"))[0].id == held.id
    clock.now = T0 + 3600
    await worklist.dispatch_once()
    [back] = await worklist.tasks("open")
    assert back.id == held.id and back.outcome == "call attempt interrupted"
    # a failed task given another go by a supervisor
    async with session_factory(engine).begin() as session:
        await session.execute(
            update(CallbackTask)
            .where(CallbackTask.id == held.id)
            .values(status="failed", attempts=3)
        )
    again = await worklist.assign(held.id, None)
    assert again is not None and (again.status, again.max_attempts) == ("open", 4)
    assert again.due_at.replace(tzinfo=UTC) <= datetime.fromtimestamp(T0 + 3600, UTC) + timedelta(
        seconds=1
    )
