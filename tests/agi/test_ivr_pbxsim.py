"""The IVR end to end: pbxsim (an independent Asterisk 22 model) runs the repo's
extensions.conf, calls our FastAGI server, and queues/transfers on HOTLINE_* variables.

Covers the issue's list: merge, dock, 12345 direct, emergency transfer (from the
greeting and from the queue), the callback key in the queue, survey, caller hanging up
mid-menu, and the AGI server down (the dialplan still queues).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from agi.ivr.catalog import load_catalog
from agi.ivr.model import load_flow_file
from agi.ivr.routes import build_agi
from agi.protocol.metrics import AgiMetrics
from agi.protocol.server import FastAgiServer, ServerConfig
from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.legacy.directory import LegacyRoute
from callcenter.legacy.queues import QueueCatalog
from callcenter.records.facts import SqlCallFacts
from tests.agi.helpers import AnyCall
from tests.agi.pbx import Call, Pbx, free_port

MERGED, DOCKED = "043262345678", "043287654321"


class Routes:
    """A legacy directory with one `merge` and one `dock` number."""

    table = {
        MERGED: LegacyRoute(
            MERGED, "U017", "市住建局", "市本级", "merge", "hotline-housing", None, 1
        ),
        DOCKED: LegacyRoute(
            DOCKED, "U020", "市水务集团", "市本级", "dock", "hotline-utilities", "043299990000", 1
        ),
    }

    def route(self, dialed_number: str, now: datetime) -> LegacyRoute | None:
        return self.table.get(dialed_number)


class Waits:
    def __init__(self) -> None:
        self.by_queue: dict[str, float] = {}

    def estimated_wait_s(self, queue: str) -> float | None:
        return self.by_queue.get(queue)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}")
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def setup(engine: AsyncEngine) -> AsyncIterator[tuple[FastAgiServer, SqlCallFacts, Waits]]:
    catalog = load_catalog()
    flow = load_flow_file(catalog, queues=QueueCatalog.default())
    recorder = SqlCallFacts(session_factory(engine), lambda: datetime.now(UTC))
    waits = Waits()
    server = build_agi(
        ServerConfig(port=0, read_timeout_s=5.0),
        lambda: flow,
        catalog,
        Routes(),
        recorder,
        lambda: datetime.now(UTC),
        waits,
        AgiMetrics(CollectorRegistry()),
        gate=AnyCall(),
    )
    await server.start()
    yield server, recorder, waits
    await server.stop()


def routed(call: Call) -> dict[str, str]:
    return {k: v for k, v in call.variables.items() if k.startswith("HOTLINE_")}


async def test_12345_direct_goes_straight_to_the_general_queue(setup) -> None:  # type: ignore[no-untyped-def]
    server, _, _ = setup
    pbx = Pbx(server.port)
    call = await pbx.place(Call("12345", {}))
    assert call.queue == "hotline-general"
    v = routed(call)
    assert v["HOTLINE_ROUTED"] == "1" and v["HOTLINE_ACTION"] == "queue"
    assert v["HOTLINE_CALL_ID"] == call.channel.uniqueid  # type: ignore[union-attr]
    assert "HOTLINE_UNIT" not in v
    assert call.agi_status == ["SUCCESS"]
    pbx.hang_up_all()


@pytest.mark.parametrize(
    ("number", "queue", "unit"),
    [(MERGED, "hotline-housing", "U017"), (DOCKED, "hotline-utilities", "U020")],
    ids=["merge", "dock"],
)
async def test_legacy_number_goes_to_its_units_queue(setup, number, queue, unit) -> None:  # type: ignore[no-untyped-def]
    server, _, _ = setup
    pbx = Pbx(server.port)
    call = await pbx.place(Call(number, {}))
    assert call.queue == queue
    assert routed(call)["HOTLINE_UNIT"] == unit
    pbx.hang_up_all()


async def test_emergency_key_during_greeting_transfers_to_119(setup) -> None:  # type: ignore[no-untyped-def]
    server, _, _ = setup
    pbx = Pbx(server.port)
    call = await pbx.place(Call("12345", {"incoming": [(1.5, "9"), (3.0, "2")]}))
    v = routed(call)
    assert v["HOTLINE_ACTION"] == "transfer" and v["HOTLINE_TRANSFER_TO"] == "119"
    assert "hotline-transfer" in call.contexts and call.queue is None
    pbx.hang_up_all()


async def test_menu_entry_enterprise_desk_and_timeouts_go_to_an_agent(setup) -> None:  # type: ignore[no-untyped-def]
    server, _, _ = setup
    pbx = Pbx(server.port)
    chose = await pbx.place(Call("123450", {"incoming": [(7.0, "1")]}))
    assert chose.queue == "hotline-enterprise"
    assert routed(chose)["HOTLINE_DESK"] == "enterprise"
    silent = await pbx.place(Call("123450", {}))  # two timeouts: an agent, not a hang-up
    assert silent.queue == "hotline-general"
    wrong = await pbx.place(Call("123450", {"incoming": [(7.0, "7"), (14.0, "8")]}))
    assert wrong.queue == "hotline-general"
    pbx.hang_up_all()


async def test_callback_key_in_the_queue_is_recorded_and_the_caller_keeps_its_place(setup) -> None:  # type: ignore[no-untyped-def]
    """The callback offer is the queue's announcement; 1 takes the caller out of the
    queue (EXITWITHKEY) to the queue-key route, which records the request, and the
    dialplan puts it back where it was."""
    server, recorder, waits = setup
    waits.by_queue["hotline-general"] = 600.0
    pbx = Pbx(server.port)
    await pbx.place(Call("12345", {}))
    call = await pbx.place(Call("12345", {"queue": [(4.0, "1")]}, until_joins=2), "13900002222")
    assert call.agi_runs == ["incoming", "queue-key"]
    assert [position for _t, position in call.joins] == [2, 2]
    assert routed(call)["HOTLINE_CALLBACK"] == "1"
    assert call.variables["QUEUEPOSITION"] == "2"
    [row] = await recorder.open_callbacks()
    assert row.uniqueid == call.channel.uniqueid  # type: ignore[union-attr]
    assert (row.caller, row.dialed, row.queue) == ("13900002222", "12345", "hotline-general")
    assert row.estimated_wait_s == 600.0
    other = await pbx.place(Call("12345", {"queue": [(4.0, "5")]}))  # no such key: stays
    assert other.agi_runs == ["incoming"] and len(await recorder.open_callbacks()) == 1
    pbx.hang_up_all()


async def test_emergency_key_in_the_queue_transfers_or_goes_back(setup) -> None:  # type: ignore[no-untyped-def]
    server, _, _ = setup
    pbx = Pbx(server.port)
    call = await pbx.place(Call("12345", {"queue": [(4.0, "9")], "queue-key": [(1.0, "3")]}))
    call.done.clear()
    await asyncio.wait_for(call.done.wait(), 10)
    assert call.agi_runs == ["incoming", "queue-key"]
    assert routed(call)["HOTLINE_TRANSFER_TO"] == "120"
    assert call.contexts[-2:] == ["hotline-queue-keys", "hotline-transfer"]
    back = Call("12345", {"queue": [(4.0, "9")], "queue-key": [(1.0, "0")]}, until_joins=2)
    await pbx.place(back)
    assert back.agi_runs == ["incoming", "queue-key"] and len(back.joins) == 2
    assert routed(back)["HOTLINE_ACTION"] == "queue"
    pbx.hang_up_all()


async def test_survey_after_the_agent_hangs_up_is_recorded(setup) -> None:  # type: ignore[no-untyped-def]
    server, recorder, _ = setup
    pbx = Pbx(server.port, seats=1, talk_time=2.0, queues=("hotline-housing",))
    call = Call(MERGED, {"survey": [(1.0, "2"), (6.0, "hangup")]})
    await pbx.place(call, timeout=15.0)
    assert call.agi_runs == ["incoming", "survey"]
    assert call.variables.get("SURVEY_RESULT") == "2"
    [row] = await recorder.ratings()
    assert (row.rating, row.queue, row.unit) == (2, "hotline-housing", "U017")
    assert row.uniqueid == call.channel.uniqueid  # type: ignore[union-attr]


async def test_caller_hangs_up_mid_menu(setup) -> None:  # type: ignore[no-untyped-def]
    server, _, _ = setup
    pbx = Pbx(server.port)
    call = await pbx.place(Call("123450", {"incoming": [(6.0, "hangup")]}))
    assert call.queue is None and "HOTLINE_ROUTED" not in call.variables
    assert call.channel is not None and call.channel.hungup
    assert server.active == 0


@pytest.mark.parametrize("mapped", [True, False], ids=["astdb-map", "general"])
async def test_agi_down_the_dialplan_still_queues(mapped: bool) -> None:
    pbx = Pbx(free_port())
    if mapped:
        pbx.astdb_put("hotline-legacy", MERGED, "hotline-housing")
    call = await pbx.place(Call(MERGED, {}))
    assert call.agi_status == ["FAILURE"]
    assert call.queue == ("hotline-housing" if mapped else "hotline-general")
    pbx.hang_up_all()
