"""Callbacks over pbxsim: virtual hold keeps the caller's place (never ahead of someone
who waited longer, never behind someone who came later); abandoned callers join the
worklist and are called back, with retries."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from callcenter.db import session_factory
from callcenter.records.facts import CallbackRequestFact, SqlCallFacts
from callcenter.records.models import CallbackTask
from pbxsim.telephony.softphone import FixedResponse, fixed_policy
from queues.callbacks import CallbackPolicy
from tests.queues.sim import Floor, open_floor, wait_until

GENERAL = "hotline-general"
POLICY = CallbackPolicy(min_wait_s=5.0, max_attempts=2, retry_s=4.0, dial_template="PJSIP/{number}")


def general(_i: int) -> dict[str, int]:
    return {"general": 3}


async def tasks(floor: Floor) -> list[CallbackTask]:
    async with session_factory(floor.engine)() as session:
        return list(await session.scalars(select(CallbackTask).order_by(CallbackTask.id)))


def waiting(floor: Floor) -> list[str]:
    queue = floor.live.nodes["pbx1"].queues[GENERAL]
    return [e.caller_id_num for e in queue.ordered_entries()]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_virtual_hold_keeps_the_place_and_is_fair(database_url: str) -> None:
    # the seats' calls last long enough (3 s of the test's time) for every caller below
    # to be waiting before the first seat is free, however slow the machine
    talk = lambda _ext: fixed_policy(0.5, 60.0)  # noqa: E731
    floor = await open_floor(database_url, 2, general, POLICY, policy=talk)
    worklist = floor.seats.callbacks
    at_claim: list[list[str]] = []
    claim = worklist._claim

    async def spy(task_id: int) -> bool:
        at_claim.append(waiting(floor))
        return await claim(task_id)

    worklist._claim = spy  # type: ignore[method-assign]
    dispatcher = asyncio.create_task(worklist.run(0.05))
    try:
        assert await floor.seats.service.login_many(["1001", "1002"]) == {}
        await wait_until(lambda: len(floor.live.nodes["pbx1"].queues[GENERAL].members) == 2)
        floor.sim.call("13900000001")
        floor.sim.call("13900000002")
        await wait_until(
            lambda: all(
                m.in_call for m in floor.live.nodes["pbx1"].queues[GENERAL].members.values()
            )
        )
        floor.sim.call("13900000004")  # D: waits before C
        await floor.sim.scheduler.sleep(1.0)
        c = floor.sim.call("13900000003")  # C: takes the callback offer, then hangs up
        await wait_until(lambda: waiting(floor) == ["13900000004", "13900000003"])
        recorder = SqlCallFacts(session_factory(floor.engine), lambda: datetime.now(UTC))
        await recorder.request_callback(
            CallbackRequestFact(c.uniqueid, "13900000003", "12345", GENERAL, "", 300.0)
        )
        caller_phone = floor.sim.phone("13900000003", fixed_policy(1.0, 20.0))
        await floor.sim.scheduler.sleep(1.0)
        floor.sim.hang_up(c)
        await wait_until(lambda: waiting(floor) == ["13900000004"])
        await floor.sim.scheduler.sleep(1.0)
        floor.sim.call("13900000005")  # E: came after C
        await wait_until(lambda: bool(asyncio.get_event_loop()) and len(at_claim) > 0, 15)
        # its seat was reserved while E (who came later) was still waiting: E cannot
        # have gone first; D (ahead of C) keeps the other seat
        assert at_claim[0] in (["13900000004", "13900000005"], ["13900000005"])

        async def done() -> CallbackTask:
            while True:
                rows = await tasks(floor)
                if rows and rows[0].status == "done":
                    return rows[0]
                await asyncio.sleep(0.05)

        task = await asyncio.wait_for(done(), 10)
        assert task.source == "virtual_hold" and task.attempts == 1
        assert task.outcome.startswith("caller answered")
        assert caller_phone.endpoint == "13900000003"
        assert waiting(floor) == ["13900000005"]  # D was served, E is after C
        # the reservation pause is gone
        state = floor.live.nodes["pbx1"]
        await wait_until(lambda: not any(m.paused for m in state.queues[GENERAL].members.values()))
    finally:
        dispatcher.cancel()
        await worklist.stop()
        await floor.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_abandoned_caller_is_called_back_with_retries(database_url: str) -> None:
    floor = await open_floor(
        database_url, 1, general, POLICY, policy=lambda _e: fixed_policy(0.5, 10.0)
    )
    worklist = floor.seats.callbacks
    dispatcher = asyncio.create_task(worklist.run(0.05))
    try:
        await floor.seats.service.login("1001")
        await wait_until(lambda: "PJSIP/1001" in floor.live.nodes["pbx1"].queues[GENERAL].members)
        floor.sim.call("13900000001")  # keeps the only seat busy
        quick = floor.sim.call("13900000002")  # hangs up after 2 s: not worth a callback
        slow = floor.sim.call("13900000003")  # hangs up after 7 s
        hidden = floor.sim.call("anonymous")  # no number to call back
        await floor.sim.scheduler.sleep(2.0)
        floor.sim.hang_up(quick)
        await floor.sim.scheduler.sleep(5.0)
        floor.sim.hang_up(slow)
        floor.sim.hang_up(hidden)
        phone = floor.sim.phone("13900000003", lambda: FixedResponse(answers=False))

        async def state_is(status: str, attempts: int) -> CallbackTask:
            while True:
                rows = await tasks(floor)
                if rows and (rows[0].status, rows[0].attempts) == (status, attempts):
                    return rows[0]
                await asyncio.sleep(0.05)

        first = await asyncio.wait_for(state_is("open", 1), 15)
        assert [t.caller for t in await tasks(floor)] == ["13900000003"]
        assert first.source == "abandoned" and first.waited_s >= 5
        assert first.outcome.startswith("caller did not answer")
        phone.policy = fixed_policy(1.0, 2.0)  # second try: they pick up
        second = await asyncio.wait_for(state_is("done", 2), 15)
        assert second.outcome.startswith("caller answered; seat PJSIP/1001")
        assert await worklist.cancel(second.id, "x") is False  # done stays done
    finally:
        dispatcher.cancel()
        await worklist.stop()
        await floor.close()
