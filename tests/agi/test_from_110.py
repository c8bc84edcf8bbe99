"""Calls the 110 platform hands over, end to end over pbxsim with the committed
dialplan (its demo 110 number, callcenter.asterisk_conf.DEMO_FROM_110): tagged before
the service is asked, no greeting, the general queue ahead of a waiting ordinary
caller, 110's reference kept (a malformed one dropped and counted), and the same
priority when the service is down."""

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
from callcenter.asterisk_conf import DEMO_FROM_110
from callcenter.db import create_engine, session_factory
from callcenter.legacy.queues import QueueCatalog
from callcenter.live.live_state import LiveState
from callcenter.records.facts import SqlCallFacts
from callcenter.records.history import SqlHistory
from pbxsim.traffic import FROM_110_NUMBER
from queues.priority import CallerPriority, PriorityRules
from tests.agi.helpers import AnyCall
from tests.agi.pbx import PROMPT_S, Call, Pbx, free_port

FROM_110 = DEMO_FROM_110.numbers[0]
REF = ("X-110-Ref", "110-20261206-0042")


class NoLegacy:
    def route(self, dialed_number: str, now: datetime) -> None:
        return None


@pytest.fixture
async def agi(tmp_path: Path) -> AsyncIterator[tuple[FastAgiServer, AgiMetrics]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    await migrate.upgrade(engine)
    catalog = load_catalog()
    flow = load_flow_file(catalog, queues=QueueCatalog.default())
    sessions = session_factory(engine)
    rules = CallerPriority(
        PriorityRules(repeat_priority=2, from_110=10), SqlHistory(sessions), LiveState(time.time)
    )
    metrics = AgiMetrics(CollectorRegistry())
    server = build_agi(
        ServerConfig(port=0, read_timeout_s=5.0),
        lambda: flow,
        catalog,
        NoLegacy(),
        SqlCallFacts(sessions, lambda: datetime.now(UTC)),
        lambda: datetime.now(UTC),
        None,
        metrics,
        rules.queue_priority,
        gate=AnyCall(),
    )
    await server.start()
    yield server, metrics
    await server.stop()
    await engine.dispose()


def test_the_simulated_110_platform_dials_the_number_the_dialplan_knows() -> None:
    assert FROM_110_NUMBER == FROM_110


async def test_a_hand_over_skips_the_greeting_and_jumps_ahead_with_its_reference(agi) -> None:  # type: ignore[no-untyped-def]
    server, metrics = agi
    pbx = Pbx(server.port)  # no seats: callers wait
    waiting = await pbx.place(Call("12345", {}), caller="13900000001")
    assert waiting.joins[0][1] == 1 and waiting.variables["HOTLINE_SOURCE"] == ""
    handed = await pbx.place(Call(FROM_110, {}), caller="13900000002", headers=(REF,))
    v = handed.variables
    assert v["HOTLINE_SOURCE"] == "110" and v["HOTLINE_SOURCE_REF"] == REF[1]
    assert v["HOTLINE_PRIORITY"] == "10" and v["QUEUE_PRIO"] == "10"
    assert handed.queue == "hotline-general" and handed.agi_status == ["SUCCESS"]
    assert handed.joins[0][1] == 1  # ahead of the ordinary caller who waited first
    assert handed.channel is not None
    # no greeting, no menu: queued well before one prompt could have played
    assert handed.joins[0][0] - handed.channel.created_at < PROMPT_S / 2
    assert metrics.refs_dropped == 0
    pbx.hang_up_all()


async def test_a_malformed_reference_is_dropped_and_counted_the_call_goes_on(agi) -> None:  # type: ignore[no-untyped-def]
    server, metrics = agi
    pbx = Pbx(server.port)
    handed = await pbx.place(Call(FROM_110, {}), headers=(("x-110-ref", "bad\x07ref"),))
    assert handed.variables["HOTLINE_SOURCE_REF"] == ""  # cleared by the IVR
    assert handed.variables["HOTLINE_PRIORITY"] == "10" and handed.queue == "hotline-general"
    assert metrics.refs_dropped == 1
    pbx.hang_up_all()


async def test_a_call_without_the_header_or_to_12345_is_tagged_accordingly(agi) -> None:  # type: ignore[no-untyped-def]
    server, _ = agi
    pbx = Pbx(server.port)
    bare = await pbx.place(Call(FROM_110, {}))
    assert bare.variables["HOTLINE_SOURCE"] == "110" and bare.variables["HOTLINE_SOURCE_REF"] == ""
    direct = await pbx.place(Call("12345", {}), caller="13900000003", headers=(REF,))
    assert direct.variables["HOTLINE_SOURCE"] == ""
    assert "HOTLINE_SOURCE_REF" not in direct.variables  # the header of a direct call: unread
    assert direct.variables["HOTLINE_PRIORITY"] == "0"
    pbx.hang_up_all()


async def test_service_down_a_hand_over_still_queues_with_its_priority() -> None:
    pbx = Pbx(free_port())
    plain = await pbx.place(Call("12345", {}), caller="13900000001")
    handed = await pbx.place(Call(FROM_110, {}), caller="13900000002", headers=(REF,))
    assert handed.agi_status == ["FAILURE"]
    assert handed.variables["HOTLINE_SOURCE_REF"] == REF[1]
    assert handed.variables["QUEUE_PRIO"] == str(DEMO_FROM_110.priority)
    assert handed.queue == "hotline-general" and handed.joins[0][1] == 1
    assert plain.variables["QUEUE_PRIO"] == "0"
    pbx.hang_up_all()
