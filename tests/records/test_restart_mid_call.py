"""The service restarts while calls are up: a fresh live state and record builder
connect mid-call. A queued caller's channel sits in `hotline-queue,s`, so the snapshot
cannot show what the caller dialed nor where the IVR routed them; the resync reads it
back from the caller channel's variables (Getvar), and the records written when the
calls end have the dialed number, unit, queue and seat right."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from agi.ivr.catalog import load_catalog
from agi.ivr.model import load_flow_file
from agi.ivr.routes import build_agi
from agi.protocol.metrics import AgiMetrics
from agi.protocol.server import FastAgiServer, ServerConfig
from ami.actions import queue_add
from ami.errors import ActionTimeout
from ami.fanout import FanOut
from ami.node import NodeConfig, PbxNode
from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.legacy.directory import LegacyRoute
from callcenter.legacy.queues import QueueCatalog
from callcenter.live.call_variables import recall_call_variables
from callcenter.live.live_state import LiveState
from callcenter.live.node_state import RECALLED_VARIABLES, Call, Channel, NodeState
from callcenter.records.builder import FinishedCall, RecordBuilder
from callcenter.records.facts import SqlCallFacts
from callcenter.records.wiring import RecordsListener
from pbxsim.telephony.softphone import fixed_policy
from tests.agi.helpers import AnyCall
from tests.queues.sim import SECRET, USER, Sim, start_pbx, wait_until

MERGED = "043266453987"
QUEUE = "hotline-social-security"


class Routes:
    """A legacy directory with one merged number (unit U001)."""

    def route(self, dialed_number: str, now: datetime) -> LegacyRoute | None:
        if dialed_number != MERGED:
            return None
        return LegacyRoute(MERGED, "U001", "市人社局", "市本级", "merge", QUEUE, None, 1)


@pytest.fixture
async def ivr(tmp_path: Path) -> AsyncIterator[FastAgiServer]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}")
    await migrate.upgrade(engine)
    catalog = load_catalog()
    flow = load_flow_file(catalog, queues=QueueCatalog.default())
    server = build_agi(
        ServerConfig(port=0, read_timeout_s=5.0),
        lambda: flow,
        catalog,
        Routes(),
        SqlCallFacts(session_factory(engine), lambda: datetime.now(UTC)),
        lambda: datetime.now(UTC),
        None,
        AgiMetrics(CollectorRegistry()),
        gate=AnyCall(),
    )
    await server.start()
    yield server
    await server.stop()
    await engine.dispose()


def service(sim: Sim) -> tuple[LiveState, RecordBuilder, list[FinishedCall], PbxNode]:
    """One run of the service: its live state and record builder on a fresh AMI link."""
    live = LiveState(sim.scheduler.now)
    done: list[FinishedCall] = []
    builder = RecordBuilder(live.clock, done.append)
    node = PbxNode(
        NodeConfig("pbx1", "127.0.0.1", sim.port, USER, SECRET, action_timeout=5.0),
        FanOut([live, RecordsListener(live, builder)]),
    )
    node.start()
    return live, builder, done, node


async def test_restart_mid_call_keeps_dialed_unit_queue_and_seat(ivr: FastAgiServer) -> None:
    sim = await start_pbx(1, policy=lambda ext: fixed_policy(0.2, 120.0))
    sim.system.pbx.agi_connect_to = ("127.0.0.1", ivr.port)
    live, builder, _, first = service(sim)
    fresh_node: PbxNode | None = None
    try:
        await asyncio.wait_for(live.synced.wait(), 10)
        assert await queue_add(first, QUEUE, "PJSIP/1001", member_name="s1001")
        talker = sim.call("13900008001", MERGED)
        await wait_until(lambda: any(c.answered_at for c in builder.open.values()), 15)
        waiter = sim.call("13900008002", MERGED)
        await wait_until(
            lambda: any(c.in_queue == QUEUE and not c.answered_at for c in builder.open.values()),
            15,
        )
        await first.stop()  # the service dies; the calls go on

        fresh_live, fresh, done, fresh_node = service(sim)
        await asyncio.wait_for(fresh_live.synced.wait(), 10)
        calls = fresh_live.nodes["pbx1"].calls
        talking = calls[talker.uniqueid]
        assert (talking.dialed, talking.unit, talking.routed_queue) == (MERGED, "U001", QUEUE)
        assert talking.seat == "s1001"
        queued = calls[waiter.uniqueid]
        assert (queued.dialed, queued.unit, queued.queue) == (MERGED, "U001", QUEUE)
        assert all(d.rebuilt for d in fresh.open.values())

        sim.hang_up(waiter)
        sim.hang_up(talker)
        await wait_until(lambda: len(done) == 2, 15)
        by_caller = {r.caller: r for r in done}
        answered = by_caller["13900008001"]
        assert (answered.dialed, answered.unit, answered.queues) == (MERGED, "U001", [QUEUE])
        assert (answered.seat, answered.agent) == ("s1001", "PJSIP/1001")
        assert answered.disposition == "answered"
        gone = by_caller["13900008002"]
        assert (gone.dialed, gone.unit, gone.queues) == (MERGED, "U001", [QUEUE])
        assert gone.seat == "" and gone.disposition == "abandoned"
    finally:
        await first.stop()
        if fresh_node is not None:
            await fresh_node.stop()
        await sim.server.stop()


class FailingNode:
    """An AMI link whose Getvar never gets a reply."""

    name = "pbx1"

    async def send(self, action: dict[str, str], **kw: object) -> object:
        raise ActionTimeout("no complete reply to Getvar within 2.0 s")


async def test_a_failed_getvar_keeps_the_snapshot_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    state = NodeState("pbx1", lambda: 100.0)
    state.channels["1.1"] = Channel("1.1", "PJSIP/trunk-00000001", "1.1", exten="s")
    state.calls["1.1"] = Call("1.1", 90.0, caller_id_num="13900000001", channels={"1.1"})
    with caplog.at_level(logging.WARNING):
        unread = await recall_call_variables(FailingNode(), state)  # type: ignore[arg-type]
    assert unread == len(RECALLED_VARIABLES)  # each one read, none could be
    call = state.calls["1.1"]
    assert (call.dialed, call.unit, call.routed_queue) == ("", "", "")
    assert state.unread_variables() == [("1.1", "PJSIP/trunk-00000001", [*RECALLED_VARIABLES])]
    assert "Getvar DID on PJSIP/trunk-00000001 failed" in caplog.text
