"""The live state through AMI faults: listener restarts and a PBX that lost its state."""

from __future__ import annotations

import asyncio
import time

from ami.node import LinkState, PbxNode
from callcenter.live.live_state import LiveState
from tests.live.check import model_vs_queuestatus
from tests.live.sim import start_sim


async def add_members(node: PbxNode, seats: list[str], queue: str = "hotline-general") -> None:
    for seat in seats:
        await node.send(
            {
                "Action": "QueueAdd",
                "Queue": queue,
                "Interface": f"Local/{seat}@sim-agent/n",
                "MemberName": f"seat-{seat}",
            },
            as_list=False,
        )


async def call(node: PbxNode, n: int, who: str = "patient") -> None:
    await node.send(
        {
            "Action": "Originate",
            "Channel": f"Local/{who}@sim-caller/n",
            "Context": "direct-queue",
            "Exten": "100",
            "Priority": "1",
            "CallerID": f'"F{n}" <1390000{n:04d}>',
            "Async": "true",
            "Variable": "QNAME=hotline-general,QTIMEOUT=60",
        },
        timeout=10,
    )


async def wait_until(predicate, timeout: float) -> float:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError("not reached in time")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


async def test_listener_killed_mid_traffic_then_resync() -> None:
    sim = await start_sim(speed=20.0)
    live = LiveState(sim.scheduler.now)
    node = PbxNode(sim.node_config(), live)
    node.start()
    try:
        await asyncio.wait_for(live.synced.wait(), 10)
        await add_members(node, ["1001", "1002", "9001"])
        for n in range(6):
            await call(node, n, "patient" if n % 2 else "impatient")
            await sim.scheduler.sleep(0.7)
        resyncs = live.resyncs_done
        await sim.kill_ami()  # calls go on inside the PBX while we are blind
        await wait_until(lambda: node.state is not LinkState.CONNECTED, 5)
        assert live.nodes["pbx1"].stale
        await sim.scheduler.sleep(3.0)  # calls are answered, abandoned, ended unseen
        await sim.start_ami()
        took = await wait_until(lambda: live.resyncs_done > resyncs, 5.0)
        assert took < 5.0
        assert not live.nodes["pbx1"].stale
        await sim.scheduler.sleep(2.0)
        assert await model_vs_queuestatus(live, node, sim.scheduler) == []
        assert node.stats.connects == 2
    finally:
        await node.stop()
        await sim.stop()


async def test_pbx_restart_with_different_state_is_followed() -> None:
    sim = await start_sim(speed=20.0)
    live = LiveState(sim.scheduler.now)
    node = PbxNode(sim.node_config(), live)
    node.start()
    try:
        await asyncio.wait_for(live.synced.wait(), 10)
        await add_members(node, ["1001", "1002"])
        await call(node, 1)
        await wait_until(lambda: len(live.nodes["pbx1"].calls) > 0, 5)
        port = sim.port
        await sim.stop()  # "Asterisk restart": everything dynamic is gone
        resyncs = live.resyncs_done
        sim = await start_sim(speed=20.0, port=port, seed=2)
        await wait_until(lambda: live.resyncs_done > resyncs, 5.0)
        state = live.nodes["pbx1"]
        assert all(not q.members for q in state.queues.values())
        assert not state.calls and not state.channels
        await add_members(node, ["3001"], "q-ringall")
        await sim.scheduler.sleep(0.5)
        assert await model_vs_queuestatus(live, node, sim.scheduler) == []
        assert list(live.nodes["pbx1"].queues["q-ringall"].members) == ["Local/3001@sim-agent/n"]
    finally:
        await node.stop()
        await sim.stop()


async def test_auditor_catches_a_wrong_model_and_resyncs() -> None:
    from callcenter.live.audit import Auditor

    sim = await start_sim(speed=20.0)
    live = LiveState(sim.scheduler.now)
    node = PbxNode(sim.node_config(), live)
    node.start()
    try:
        await asyncio.wait_for(live.synced.wait(), 10)
        await add_members(node, ["1001", "1002"])
        await sim.scheduler.sleep(0.5)
        auditor = Auditor(live, interval=3600)
        await auditor.audit_all()
        assert auditor.audits == 1 and auditor.disagreements == 0
        member = live.nodes["pbx1"].queues["hotline-general"].members["Local/1001@sim-agent/n"]
        member.paused = True  # a bug, simulated
        await auditor.audit_all()
        assert auditor.disagreements == 1
        assert any("paused model=True" in d for d in auditor.last["pbx1"].differences)
        await auditor.audit_all()  # healed by the resync
        assert auditor.disagreements == 1 and auditor.last["pbx1"].ok
    finally:
        await node.stop()
        await sim.stop()


async def test_two_nodes_one_down_the_other_unaffected() -> None:
    from callcenter.live.live_views import queue_views

    sims = [await start_sim(speed=20.0, seed=s) for s in (1, 2)]
    live = LiveState(sims[0].scheduler.now)
    nodes = [PbxNode(sim.node_config(name=f"pbx{i + 1}"), live) for i, sim in enumerate(sims)]
    for node in nodes:
        node.start()
    try:
        await wait_until(lambda: live.resyncs_done >= 2, 10)
        await add_members(nodes[0], ["1001"])
        await add_members(nodes[1], ["1002", "3001"])
        await sims[0].scheduler.sleep(0.5)
        general = {
            v.node: v
            for v in queue_views(list(live.nodes.values()), live.clock(), {})
            if v.name == "hotline-general"
        }
        assert (general["pbx1"].members, general["pbx2"].members) == (1, 2)
        await sims[1].stop()  # node 2's PBX goes away
        await wait_until(lambda: live.nodes["pbx2"].stale, 5)
        views = queue_views(list(live.nodes.values()), live.clock(), {})
        assert all(v.stale for v in views if v.node == "pbx2")
        assert not any(v.stale for v in views if v.node == "pbx1")
        await add_members(nodes[0], ["1002"])  # node 1 keeps working
        assert await model_vs_queuestatus(live, nodes[0], sims[0].scheduler) == []
    finally:
        for node in nodes:
            await node.stop()
        await sims[0].stop()
