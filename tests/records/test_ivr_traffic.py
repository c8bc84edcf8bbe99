"""Records of calls through the whole front end: pbxsim runs the repo's dialplan and
calls our FastAGI IVR; the records come over a real AMI socket. The dialed legacy
number and unit, IVR keys, the emergency transfer and the survey rating (stored by
the IVR, joined by Linkedid) all end up in the one record per call."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlalchemy import select

from agi.ivr.catalog import load_catalog
from agi.ivr.live_calls import LiveCallGate
from agi.ivr.model import load_flow_file
from agi.ivr.routes import build_agi
from agi.protocol.metrics import AgiMetrics
from agi.protocol.server import ServerConfig
from ami.fanout import FanOut
from ami.node import NodeConfig, PbxNode
from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.legacy.queues import QueueCatalog
from callcenter.live.live_state import LiveState
from callcenter.records.facts import SqlCallFacts
from callcenter.records.models import CallRecord
from callcenter.records.wiring import build_records
from pbxsim.ami_server import AmiServer, users_from_manager_conf
from tests.agi.pbx import Call, Pbx, free_port
from tests.agi.test_ivr_pbxsim import MERGED, Routes, Waits
from tests.conftest import TRANSCRIPTS
from tests.queues.sim import SECRET, USER, wait_until


async def test_ivr_calls_become_records(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    catalog = load_catalog()
    flow = load_flow_file(catalog, queues=QueueCatalog.default())
    port = free_port()
    pbx = Pbx(port, seats=1, talk_time=2.0, queues=("hotline-housing", "hotline-general"))
    live = LiveState(pbx.scheduler.now)
    agi = build_agi(
        ServerConfig(port=port, read_timeout_s=5.0),
        lambda: flow,
        catalog,
        Routes(),
        SqlCallFacts(sessions, lambda: datetime.now(UTC)),
        lambda: datetime.now(UTC),
        Waits(),
        AgiMetrics(CollectorRegistry()),
        gate=LiveCallGate(live),  # the rating is written for a live call in the survey only
    )
    await agi.start()
    users = users_from_manager_conf((TRANSCRIPTS / "config" / "manager.conf").read_text("utf-8"))
    ami = AmiServer(pbx.scheduler, pbx.bus, pbx.system.actions, dict(users), pbx.system.cli)
    await ami.start()
    records = build_records(sessions, live, tmp_path / "spool", flush_every_s=0.05)
    node = PbxNode(
        NodeConfig("pbx1", "127.0.0.1", ami.port, USER, SECRET, action_timeout=5.0),
        FanOut([live, records.listener]),
    )
    node.start()
    writer = asyncio.create_task(records.writer.run())
    try:
        await asyncio.wait_for(live.synced.wait(), 10)
        surveyed = await pbx.place(
            Call(
                MERGED,
                {"survey": [(1.0, "2"), (6.0, "hangup")]},
            ),
            "13900000001",
            15.0,
        )
        menu_quit = await pbx.place(Call("123450", {"incoming": [(6.0, "hangup")]}), "13900000002")
        emergency = await pbx.place(
            Call("12345", {"incoming": [(1.5, "9"), (3.0, "2")]}), "13900000003"
        )
        await asyncio.sleep(0.3)
        pbx.hang_up_all()
        await wait_until(lambda: records.builder.finished >= 3 and not records.builder.open, 10)
        await wait_until(lambda: not records.writer.spool.sealed() and records.writer.written >= 3)
        await records.writer.flush()
    finally:
        writer.cancel()
        await node.stop()
        await ami.stop()
        await agi.stop()
    async with sessions() as s:
        rows = {r.caller: r for r in (await s.scalars(select(CallRecord))).all()}
    await engine.dispose()
    assert set(rows) == {"13900000001", "13900000002", "13900000003"}
    answered = rows["13900000001"]
    assert answered.linkedid == surveyed.channel.uniqueid  # type: ignore[union-attr]
    assert answered.dialed == MERGED and answered.unit == "U017"
    assert answered.queue == "hotline-housing" and answered.disposition == "answered"
    assert answered.rating == 2 and answered.seat and answered.talk_s >= 1
    quit_ = rows["13900000002"]
    assert quit_.disposition == "ivr_only" and quit_.wait_s is None and quit_.queue == ""
    assert menu_quit.queue is None
    transfer = rows["13900000003"]
    assert transfer.ivr_keys.startswith("92")
    assert transfer.transfers and transfer.transfers[0]["to"] == "119"
    assert transfer.transfers == [
        {"kind": "dial", "from_queue": "", "to": "119", "status": "ANSWER"}
    ]
    assert transfer.disposition == "transferred" and transfer.queue == ""  # never offered
    assert "hotline-transfer" in emergency.contexts
