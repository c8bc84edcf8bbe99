"""The typed actions against pbxsim: the panoramisk 1.4 traps do not bite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ami import actions
from ami.node import PbxNode
from ami.protocol import serialize_action
from callcenter.live.live_state import LiveState
from tests.live.sim import SimPbx, start_sim


@pytest.fixture
async def linked() -> AsyncIterator[tuple[SimPbx, PbxNode]]:
    sim = await start_sim(speed=20.0)
    live = LiveState(sim.scheduler.now)
    node = PbxNode(sim.node_config(), live)
    node.start()
    await asyncio.wait_for(live.synced.wait(), 10)
    yield sim, node
    await node.stop()
    await sim.stop()


async def test_queue_member_actions(linked: tuple[SimPbx, PbxNode]) -> None:
    _, node = linked
    iface = "Local/1001@sim-agent/n"
    assert await actions.queue_add(node, "hotline-general", iface, member_name="seat-1001")
    assert not await actions.queue_add(node, "hotline-general", iface)  # already there
    await actions.queue_pause(node, iface, True, reason="meal")
    await actions.queue_penalty(node, iface, 2)
    items = await actions.queue_status(node, queue="hotline-general")
    member = next(i for i in items if i.name == "QueueMember")
    assert (member.paused, member.paused_reason, member.penalty) == (True, "meal", 2)  # type: ignore[attr-defined]
    assert await actions.queue_remove(node, "hotline-general", iface)
    assert not await actions.queue_remove(node, "hotline-general", iface)


async def test_originate_waits_for_its_outcome(linked: tuple[SimPbx, PbxNode]) -> None:
    _, node = linked
    ok = await actions.originate(
        node,
        "Local/patient@sim-caller/n",
        context="transfer-out",
        exten="100",
        caller_id='"T" <100>',
        variables={"A": "1"},
    )
    assert ok.success and ok.reason == 4 and ok.uniqueid
    bad = await actions.originate(node, "Nope/1", context="transfer-out", exten="100")
    assert not bad.success and bad.reason == 0


async def test_astdb_and_vars(linked: tuple[SimPbx, PbxNode]) -> None:
    _, node = linked
    await actions.db_put(node, "hotline-legacy", "043262345678", "hotline-housing")
    assert await actions.db_get(node, "hotline-legacy", "043262345678") == "hotline-housing"
    assert await actions.db_get(node, "hotline-legacy", "missing") is None
    assert await actions.db_del(node, "hotline-legacy", "043262345678")
    await actions.setvar(node, "CC_TEST", "42")
    assert await actions.getvar(node, "CC_TEST") == "42"
    lines = await actions.command(node, "queue show hotline-general")
    assert lines and lines[0].startswith("hotline-general has 0 calls")


def test_a_line_break_in_a_value_is_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        serialize_action({"Action": "Originate", "CallerID": "x\r\nAction: Hangup"})
    wire = serialize_action({"Variable": ["A=1", "B=2"], "Action": "Originate"})
    assert wire == b"Action: Originate\r\nVariable: A=1\r\nVariable: B=2\r\n\r\n"


async def test_panoramisk_testing_eol_change_does_not_reach_real_links(
    linked: tuple[SimPbx, PbxNode],
) -> None:
    import panoramisk.utils as putils

    saved = putils.EOL
    putils.EOL = "\n"  # what `panoramisk.testing` does, process-wide, forever
    try:
        _, node = linked
        reply = await node.send({"Action": "Ping"})
        assert reply.get("Ping") == "Pong"
    finally:
        putils.EOL = saved
