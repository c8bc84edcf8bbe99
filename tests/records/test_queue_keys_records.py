"""The caller's first seconds and keys pressed in the queue, end to end: pbxsim runs the
repo's dialplan and queues with the repo's prompts at their real lengths, our FastAGI
IVR answers, and each call's record is built twice, from pbxsim's AMI events (the live
builder) and from the ledger pbxsim writes as Asterisk does (queue_log, CEL: the
reconciler's rebuild). Both must tell the same call.

- A 12345 caller hears the short greeting and is in the queue within 6 s of the answer
  (PBX clock); the record's `queued_after_s` says so.
- A caller who presses 1 (callback) in the queue leaves it, is recorded, comes back at
  its place: one call, offered once, its wait from the first entry.
- A caller who presses 9 and chooses an emergency service is offered, not answered, not
  abandoned: `left_with_key`, transferred.
"""

from __future__ import annotations

import asyncio
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
from ami.events import parse_event
from ami.frames import parse_frame
from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.legacy.queues import QueueCatalog
from callcenter.records.builder import FinishedCall, RecordBuilder
from callcenter.records.facts import SqlCallFacts
from callcenter.records.ledger_calls import CelRow, LedgerCall, QueueRow, build_calls
from pbxsim.asterisk_ledger import AsteriskLedger, LedgerRow, pbx_apps
from pbxsim.asterisk_ledger import CelRow as SimCelRow
from pbxsim.asterisk_ledger import QueueLogRow as SimQueueLogRow
from pbxsim.events import AmiEvent
from pbxsim.telephony.softphone import Softphone, fixed_policy
from pbxsim.telephony.sounds import sound_lengths
from tests.agi.helpers import AnyCall
from tests.agi.pbx import CONF, Call, Pbx
from tests.agi.test_ivr_pbxsim import Routes, Waits
from tests.queues.sim import wait_until

#: the time to queue the issue asks for, answer -> queue entry, AGI round trips included
TIME_TO_QUEUE_S = 6.0


class Floor:
    """pbxsim with real prompt lengths, a record builder on its events and its ledger."""

    def __init__(self, agi_port: int) -> None:
        self.sim = Pbx(agi_port)
        self.sim.pbx.sound_lengths.update(sound_lengths(CONF / "sounds", "zh"))
        self.records: dict[str, FinishedCall] = {}
        self.builder = RecordBuilder(self.sim.scheduler.now, self._finished)
        self.rows: list[LedgerRow] = []
        self.up_at: dict[str, float] = {}
        self.connected_at: dict[str, float] = {}
        AsteriskLedger(self.sim.scheduler.now, self.rows.append, pbx_apps(self.sim.pbx)).attach(
            self.sim.bus
        )
        self.sim.bus.subscribe(self._event)

    def _finished(self, record: FinishedCall) -> None:
        self.records[record.linkedid] = record

    def _event(self, event: AmiEvent) -> None:
        if event.name == "Newstate" and event.get("ChannelState") == "6":
            self.up_at.setdefault(event.get("Uniqueid") or "", self.sim.scheduler.now())
        elif event.name == "AgentConnect":
            self.connected_at[event.get("Uniqueid") or ""] = self.sim.scheduler.now()
        frame = parse_frame(event.encode().removesuffix(b"\r\n\r\n"))
        self.builder.apply("pbx1", parse_event(frame))

    def ledger(self, linkedid: str) -> LedgerCall:
        cel = [
            CelRow(
                r.eventtype,
                r.eventtime.astimezone(UTC),  # the PBX's local time, as cel_pgsql writes it
                r.cid_num,
                r.exten,
                r.context,
                r.channame,
                r.uniqueid,
                r.linkedid,
                r.extra,
            )
            for r in self.rows
            if isinstance(r, SimCelRow)
        ]
        queue = [
            QueueRow(r.time, r.callid, r.queuename, r.agent, r.event, r.data1, r.data2, r.data3)
            for r in self.rows
            if isinstance(r, SimQueueLogRow)
        ]
        [call] = [c for c in build_calls(cel, queue) if c.linkedid == linkedid]
        return call

    async def record(self, linkedid: str) -> FinishedCall:
        await wait_until(lambda: linkedid in self.records, 10)
        return self.records[linkedid]

    def add_seat(self, extension: str) -> None:
        Softphone(self.sim.pbx, extension, "from-seats", policy=fixed_policy(0.5))
        self.sim.system.queues.add_member(
            "hotline-general", f"PJSIP/{extension}", membername=extension
        )


@pytest.fixture
async def ivr(tmp_path: Path) -> AsyncIterator[tuple[FastAgiServer, SqlCallFacts]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}")
    await migrate.upgrade(engine)
    catalog = load_catalog()
    flow = load_flow_file(catalog, queues=QueueCatalog.default())
    facts = SqlCallFacts(session_factory(engine), lambda: datetime.now(UTC))
    server = build_agi(
        ServerConfig(port=0, read_timeout_s=5.0),
        lambda: flow,
        catalog,
        Routes(),
        facts,
        lambda: datetime.now(UTC),
        Waits(),
        AgiMetrics(CollectorRegistry()),
        gate=AnyCall(),
    )
    await server.start()
    yield server, facts
    await server.stop()
    await engine.dispose()


def test_the_12345_greeting_lasts_at_most_5_seconds() -> None:
    """The committed wav files, at the rate they were rendered (not sped up)."""
    flow = load_flow_file(load_catalog(), queues=QueueCatalog.default())
    greeting = flow.entry_for("12345").greeting
    assert flow.entry_for("12345").menu is None
    for lang in ("zh", "en"):
        lengths = sound_lengths(CONF / "sounds", lang)
        assert 2.0 < lengths[f"hotline/{greeting}"] <= 5.0, lang


async def test_a_12345_caller_is_in_the_queue_within_6_seconds_of_the_answer(ivr) -> None:  # type: ignore[no-untyped-def]
    server, _ = ivr
    floor = Floor(server.port)
    call = await floor.sim.place(Call("12345", {}), "13900000001")
    assert call.channel is not None
    linkedid = call.channel.uniqueid
    joined_at, _position = call.joins[0]
    time_to_queue = joined_at - floor.up_at[linkedid]
    greeting = floor.sim.pbx.sound_length("hotline/welcome")
    assert greeting <= time_to_queue <= TIME_TO_QUEUE_S
    floor.sim.hang_up_all()
    record = await floor.record(linkedid)
    assert record.queued_after_s is not None
    assert abs(record.queued_after_s - time_to_queue) < 0.1
    ledger = floor.ledger(linkedid)
    assert ledger.queued_after_s is not None
    assert abs(ledger.queued_after_s - time_to_queue) < 0.1


async def test_the_callback_key_and_back_is_one_call_waiting_from_its_first_entry(ivr) -> None:  # type: ignore[no-untyped-def]
    server, facts = ivr
    floor = Floor(server.port)
    call = Call("12345", {"queue": [(20.0, "1")]}, until_joins=2)
    await floor.sim.place(call, "13900000002", timeout=15.0)
    assert call.channel is not None
    linkedid = call.channel.uniqueid
    assert call.agi_runs == ["incoming", "queue-key"]
    floor.add_seat("1001")  # a seat comes free only now
    await wait_until(lambda: linkedid in floor.connected_at, 10)
    answered_at = floor.connected_at[linkedid]
    await asyncio.sleep(0.2)
    floor.sim.hang_up_all()
    record = await floor.record(linkedid)
    ledger = floor.ledger(linkedid)
    first_entry = call.joins[0][0]
    assert [r.caller for r in await facts.open_callbacks()] == ["13900000002"]
    # one call, offered once, answered; its wait from the first entry
    assert record.queues == ledger.queues == ["hotline-general"]
    assert record.disposition == ledger.disposition == "answered"
    assert record.queue_exit == ledger.queue_exit == "answered"
    assert record.seat == ledger.seat == "1001"
    assert record.wait_s is not None and ledger.wait_s is not None
    assert abs(record.wait_s - ledger.wait_s) <= 1.0
    assert abs(record.wait_s - (answered_at - first_entry)) <= 1.0
    assert record.wait_s > 20.0
    assert record.queued_after_s is not None and ledger.queued_after_s is not None
    assert abs(record.queued_after_s - ledger.queued_after_s) < 0.1
    assert record.queued_after_s <= TIME_TO_QUEUE_S
    assert record.ivr_keys == "1"


async def test_the_emergency_key_in_the_queue_is_offered_not_answered_not_abandoned(ivr) -> None:  # type: ignore[no-untyped-def]
    server, _ = ivr
    floor = Floor(server.port)
    call = Call("12345", {"queue": [(4.0, "9")], "queue-key": [(1.0, "1")]})
    await floor.sim.place(call, "13900000003")
    call.done.clear()
    await asyncio.wait_for(call.done.wait(), 10)  # in hotline-transfer
    assert call.channel is not None
    linkedid = call.channel.uniqueid
    await asyncio.sleep(0.3)  # the far end (110) answers after 1 s
    floor.sim.hang_up_all()
    record = await floor.record(linkedid)
    ledger = floor.ledger(linkedid)
    assert record.queues == ledger.queues == ["hotline-general"]
    assert record.agent == ledger.agent == ""
    assert record.queue_exit == ledger.queue_exit == "left_with_key"
    assert record.disposition == ledger.disposition == "transferred"
    assert [t["to"] for t in record.transfers] == ["110"]
    assert record.wait_s is not None and ledger.wait_s is not None
    assert abs(record.wait_s - ledger.wait_s) <= 1.0
    assert 3.0 <= record.wait_s <= 6.0
