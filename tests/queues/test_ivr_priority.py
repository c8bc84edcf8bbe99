"""The IVR asks the priority rules (queues.priority) before it answers the dialplan:
HOTLINE_PRIORITY, then QUEUE_PRIO, over pbxsim with the repo's dialplan."""

from __future__ import annotations

import time
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
from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.legacy.queues import QueueCatalog
from callcenter.live.live_state import LiveState
from callcenter.records.facts import SqlCallFacts
from callcenter.records.history import SqlHistory
from callcenter.records.store import RecordStore
from queues.priority import CallerPriority, PriorityRules
from tests.agi.helpers import AnyCall
from tests.agi.pbx import Call, Pbx
from tests.records.factory import call


class NoLegacy:
    def route(self, dialed_number: str, now: datetime) -> None:
        return None


@pytest.fixture
async def agi(tmp_path: Path) -> AsyncIterator[tuple[FastAgiServer, RecordStore]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    await migrate.upgrade(engine)
    catalog = load_catalog()
    flow = load_flow_file(catalog, queues=QueueCatalog.default())
    sessions = session_factory(engine)
    rules = CallerPriority(
        PriorityRules(repeat_priority=2, numbers={"13900000088": 6}),
        SqlHistory(sessions),
        LiveState(time.time),
    )
    server = build_agi(
        ServerConfig(port=0, read_timeout_s=5.0),
        lambda: flow,
        catalog,
        NoLegacy(),
        SqlCallFacts(sessions, lambda: datetime.now(UTC)),
        lambda: datetime.now(UTC),
        None,
        AgiMetrics(CollectorRegistry()),
        rules.queue_priority,
        gate=AnyCall(),
    )
    await server.start()
    yield server, RecordStore(sessions)
    await server.stop()
    await engine.dispose()


async def test_rules_set_hotline_priority_and_queue_prio(agi) -> None:  # type: ignore[no-untyped-def]
    server, records = agi
    pbx = Pbx(server.port)
    first = await pbx.place(Call("12345", {"incoming": [(1.0, "0")]}), caller="13900000001")
    assert first.variables["HOTLINE_PRIORITY"] == "0" and first.variables["QUEUE_PRIO"] == "0"
    # their call reached a queue; its record is written (by any instance)
    await records.upsert([call("1.1", caller="13900000001", started_at=time.time() - 60)])
    again = await pbx.place(Call("12345", {"incoming": [(1.0, "0")]}), caller="13900000001")
    assert again.variables["HOTLINE_PRIORITY"] == "2" and again.variables["QUEUE_PRIO"] == "2"
    listed = await pbx.place(Call("12345", {"incoming": [(1.0, "0")]}), caller="13900000088")
    assert listed.variables["HOTLINE_PRIORITY"] == "6"
    assert listed.queue == "hotline-general"
    pbx.hang_up_all()
