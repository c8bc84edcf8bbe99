"""The AMI link drops mid-traffic: a call that ended while we were blind still gets its
record (finished at the resync), a call still talking is kept and recorded when it
ends, and a service that starts while calls are up opens them from the snapshot."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ami.actions import queue_add
from ami.fanout import FanOut
from ami.node import NodeConfig, PbxNode
from callcenter.live.live_state import LiveState
from callcenter.records.builder import FinishedCall, RecordBuilder
from callcenter.records.wiring import RecordsListener
from pbxsim.ami_server import AmiServer
from pbxsim.telephony.softphone import fixed_policy
from tests.queues.sim import SECRET, USER, start_pbx, wait_until


async def test_link_drop_and_fresh_start(tmp_path: Path) -> None:
    sim = await start_pbx(1, policy=lambda ext: fixed_policy(0.2, 60.0))

    def connect(listener: FanOut) -> PbxNode:
        node = PbxNode(
            NodeConfig(
                "pbx1",
                "127.0.0.1",
                sim.port,
                USER,
                SECRET,
                action_timeout=5.0,
                backoff_initial=0.05,
                backoff_max=0.2,
            ),
            listener,
        )
        node.start()
        return node

    finished: list[FinishedCall] = []
    live = LiveState(sim.scheduler.now)
    builder = RecordBuilder(live.clock, finished.append)
    node = connect(FanOut([live, RecordsListener(live, builder)]))
    late: PbxNode | None = None
    try:
        await asyncio.wait_for(live.synced.wait(), 10)
        assert await queue_add(node, "hotline-general", "PJSIP/1001", member_name="s1001")
        talker = sim.call("13900000001")
        await wait_until(lambda: any(c.answered_at for c in builder.open.values()), 10)
        waiter = sim.call("13900000002")
        await wait_until(lambda: len(builder.open) == 2, 10)

        bus = sim.server.bus
        await sim.server.stop()  # we are blind; the waiting caller gives up meanwhile
        sim.hang_up(waiter)
        await asyncio.sleep(0.2)
        live.synced.clear()
        sim.server = AmiServer(
            sim.scheduler, bus, sim.system.actions, sim.system.users, sim.system.cli, port=sim.port
        )
        await sim.server.start()
        await asyncio.wait_for(live.synced.wait(), 10)
        await wait_until(lambda: len(finished) == 1, 10)
        (gone,) = finished
        assert gone.caller == "13900000002" and gone.disposition == "abandoned"
        assert any(step[1] == "ended_unseen" for step in gone.timeline)
        assert len(builder.open) == 1  # the talking call is still followed

        # a service started now (a crash and restart) rebuilds the talking call
        fresh_live = LiveState(sim.scheduler.now)
        fresh_done: list[FinishedCall] = []
        fresh = RecordBuilder(fresh_live.clock, fresh_done.append)
        late = connect(FanOut([fresh_live, RecordsListener(fresh_live, fresh)]))
        await asyncio.wait_for(fresh_live.synced.wait(), 10)
        (rebuilt,) = fresh.open.values()
        assert rebuilt.rebuilt and rebuilt.caller == "13900000001"
        assert rebuilt.agent == "PJSIP/1001" and rebuilt.answered_at is not None

        sim.hang_up(talker)
        await wait_until(lambda: len(finished) == 2 and len(fresh_done) == 1, 10)
        assert finished[1].disposition == "answered" and finished[1].seat == "s1001"
        assert fresh_done[0].linkedid == finished[1].linkedid  # same key: one row in the DB
        assert fresh_done[0].disposition == "answered"
    finally:
        await node.stop()
        if late is not None:
            await late.stop()
        await sim.server.stop()
