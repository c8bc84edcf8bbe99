"""A callback is a call of its own: on pbxsim an abandoned caller is called back (the
first try is not answered, the second is) and the call records say so. The abandoned
call keeps exactly one inbound record; each callback the service placed gets an
outbound record (kind `callback`) with the number called, the seat and the outcome,
linked to the abandoned call; no inbound record is written for the callback's legs,
the offered calls do not change, and the callback completion counts the caller. The
seat's calls and talk time are its records': the call it answered, not the callbacks
it placed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from ami.fanout import FanOut
from ami.node import NodeConfig, PbxNode
from callcenter.db import session_factory
from callcenter.live.live_state import LiveState
from callcenter.records import kpi
from callcenter.records import query as q
from callcenter.records.builder import FinishedCall, RecordBuilder
from callcenter.records.store import RecordStore
from callcenter.records.wiring import RecordsListener
from pbxsim.telephony.softphone import FixedResponse, fixed_policy
from queues.callbacks import CallbackPolicy
from tests.queues.sim import SECRET, USER, open_floor, wait_until

GENERAL = "hotline-general"
POLICY = CallbackPolicy(min_wait_s=5.0, max_attempts=2, retry_s=4.0, dial_template="PJSIP/{number}")


def general(_i: int) -> dict[str, int]:
    return {"general": 3}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_callbacks_are_outbound_records_linked_to_the_abandoned_call(
    database_url: str,
) -> None:
    floor = await open_floor(
        database_url, 1, general, POLICY, policy=lambda _e: fixed_policy(0.5, 10.0)
    )
    records_live = LiveState(floor.sim.scheduler.now)
    finished: list[FinishedCall] = []
    builder = RecordBuilder(records_live.clock, finished.append)
    records_node = PbxNode(
        NodeConfig("pbx1", "127.0.0.1", floor.sim.port, USER, SECRET, action_timeout=5.0),
        FanOut([records_live, RecordsListener(records_live, builder)]),
    )
    records_node.start()
    worklist = floor.seats.callbacks
    dispatcher = asyncio.create_task(worklist.run(0.05))
    try:
        await asyncio.wait_for(records_live.synced.wait(), 10)
        await floor.seats.service.login("1001")
        await wait_until(lambda: "PJSIP/1001" in floor.live.nodes["pbx1"].queues[GENERAL].members)
        floor.sim.call("13900000001")  # keeps the only seat busy
        gone = floor.sim.call("13900000003")  # hangs up after 7 s: called back
        await floor.sim.scheduler.sleep(7.0)
        floor.sim.hang_up(gone)
        phone = floor.sim.phone("13900000003", lambda: FixedResponse(answers=False))
        await wait_until(lambda: any(r.kind == "callback" for r in finished), 20)
        phone.policy = fixed_policy(1.0, 2.0)  # the second try is answered
        await wait_until(lambda: sum(r.kind == "callback" for r in finished) == 2, 20)
        await wait_until(lambda: not builder.open, 10)

        inbound = [r for r in finished if r.kind == "call"]
        callbacks = [r for r in finished if r.kind == "callback"]
        assert sorted(r.caller for r in inbound) == ["13900000001", "13900000003"]
        assert all(r.direction == "inbound" and r.dialed == "12345" for r in inbound)
        (abandoned,) = [r for r in inbound if r.caller == "13900000003"]
        assert abandoned.disposition == "abandoned" and abandoned.linkedid == gone.uniqueid
        missed, reached = callbacks
        for record in callbacks:
            assert (record.direction, record.callback_of) == ("outbound", gone.uniqueid)
            assert (record.dialed, record.caller) == ("13900000003", "13900000003")
            assert (record.seat, record.agent) == ("1001", "PJSIP/1001")
            assert record.queues == [] and record.disposition in ("no_answer", "reached")
        assert (missed.disposition, missed.talk_s) == ("no_answer", 0.0)
        assert reached.disposition == "reached" and reached.talk_s > 0
        assert reached.hangup_by == "called"

        sessions = session_factory(floor.engine)
        store = RecordStore(sessions)
        await store.upsert(finished)
        start = int(min(r.started_at for r in finished)) - 1
        async with sessions() as session:
            (row,) = await kpi.compute(session, start, start + 86400)
            by_queue = await kpi.compute(session, start, start + 86400, group="queue")
            linked = await q.callbacks_of(session, gone.uniqueid)
            original = await q.original_of(session, reached.callback_of)
        assert (row.calls, row.offered, row.answered, row.abandoned) == (2, 2, 1, 1)
        assert row.callbacks_reached == 1 and row.callback_completion == 1.0
        assert [r.group for r in by_queue] == [GENERAL]  # no row for the callbacks
        assert [r.linkedid for r in linked] == [missed.linkedid, reached.linkedid]
        assert original is not None and original.linkedid == gone.uniqueid

        (taken,) = [r for r in inbound if r.seat == "1001"]
        since = datetime.fromtimestamp(start, UTC)
        stats = await floor.seats.repo.stats(since, since + timedelta(days=1), ["1001"])
        assert (stats["1001"].calls, stats["1001"].talk_s) == (1, taken.talk_s)
        assert taken.talk_s > 0
    finally:
        dispatcher.cancel()
        await worklist.stop()
        await records_node.stop()
        await floor.close()
