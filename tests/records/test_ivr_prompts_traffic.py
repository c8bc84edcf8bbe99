"""The prompts a caller heard and the time from the answer to the queue, over real
sockets: pbxsim runs the repo's dialplan and our FastAGI IVR, and the AMI user reads
what the rendered manager.conf lets it read (`agi`: AGIExecStart names every prompt)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry

from agi.ivr.catalog import load_catalog
from agi.ivr.live_calls import LiveCallGate
from agi.ivr.model import load_flow_file
from agi.ivr.routes import build_agi
from agi.protocol.metrics import AgiMetrics
from agi.protocol.server import ServerConfig
from ami.fanout import FanOut
from ami.node import NodeConfig, PbxNode
from callcenter import migrate
from callcenter.asterisk_conf import ConfInputs, render
from callcenter.db import create_engine, session_factory
from callcenter.legacy.queues import QueueCatalog
from callcenter.live.live_state import LiveState
from callcenter.records.builder import FinishedCall
from callcenter.records.facts import SqlCallFacts
from callcenter.records.wiring import build_records
from pbxsim.ami_server import AmiServer, users_from_manager_conf
from tests.agi.pbx import PROMPT_S, Call, Pbx, free_port
from tests.agi.test_ivr_pbxsim import MERGED, Routes, Waits
from tests.queues.sim import SECRET, USER, wait_until

QUEUES = ("hotline-housing", "hotline-general")


def product_manager_users() -> dict[str, object]:
    """The AMI user exactly as `asterisk-conf render` writes it."""
    conf = render(
        ConfInputs(
            agi_url="agi://127.0.0.1:4573",
            default_queue="hotline-general",
            queues=QUEUES,
            transfer_targets={},
            seats=(),
            trunk_host="127.0.0.1",
            ami_user=USER,
            ami_secret=SECRET,
        )
    )
    return dict(users_from_manager_conf(conf["manager.conf"]))


async def test_prompts_and_time_to_queue_of_ivr_calls(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    catalog = load_catalog()
    flow = load_flow_file(catalog, queues=QueueCatalog.default())
    port = free_port()
    pbx = Pbx(port, seats=1, talk_time=2.0, queues=QUEUES)
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
        gate=LiveCallGate(live),
    )
    await agi.start()
    ami = AmiServer(
        pbx.scheduler, pbx.bus, pbx.system.actions, product_manager_users(), pbx.system.cli
    )
    await ami.start()
    records = build_records(sessions, live, tmp_path / "spool", flush_every_s=0.05)
    finished: list[FinishedCall] = []
    sink = records.builder.sink
    records.builder.sink = lambda record: (finished.append(record), sink(record))[-1]
    node = PbxNode(
        NodeConfig("pbx1", "127.0.0.1", ami.port, USER, SECRET, action_timeout=5.0),
        FanOut([live, records.listener]),
    )
    node.start()
    try:
        await asyncio.wait_for(live.synced.wait(), 10)
        await pbx.place(Call(MERGED, {"survey": [(6.0, "hangup")]}), "13900000001", 15.0)
        await pbx.place(Call("123450", {"incoming": [(6.0, "hangup")]}), "13900000002")
        await asyncio.sleep(0.3)
        pbx.hang_up_all()
        await wait_until(lambda: len(finished) >= 2 and not records.builder.open, 10)
    finally:
        await node.stop()
        await ami.stop()
        await agi.stop()
        await engine.dispose()
    by_caller = {r.caller: r for r in finished}
    queued, quit_ = by_caller["13900000001"], by_caller["13900000002"]
    heard = [step[2] for step in queued.timeline if step[1] == "prompt"]
    assert queued.prompts and queued.prompts == heard
    assert all(p.startswith("hotline/") for p in queued.prompts)
    assert quit_.prompts and quit_.queues == []
    # the IVR played its prompts before the caller reached the queue, in PBX seconds
    assert queued.queues and queued.queued_after_s is not None
    assert queued.queued_after_s >= PROMPT_S - 0.5
    assert all(r["outcome"] != "ringing" for r in queued.rings)
    assert quit_.queued_after_s is None
