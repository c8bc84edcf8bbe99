"""Every call recorded exactly once, whatever fails: the service is killed mid-traffic
and restarted at once, and later stopped for a quarter of an hour while pbxsim keeps
taking calls (the dialplan's fallback queues callers without the IVR); pbxsim writes
Asterisk's own ledger (cdr, cel, queue_log) into the service's database throughout, as
a real Asterisk does through cdr_pgsql/cel_pgsql/res_config_pgsql.

Afterwards, and after one reconciliation over the whole run, every call in pbxsim's
outcome ledger (pbxsim/ledger.py: what its callers and seats did) has exactly one
record and nothing else has one, with the simulated day's checks and tolerances:
- a call the service followed from start to end: every field of
  test_simulated_day.assert_record (disposition, queue, dialed number and unit, keys,
  rings, seat, wait, talk, who hung up);
- a call the service missed or half-saw (taken while it was down, in progress at the
  kill): what the PBX's ledger knows - caller, dialed number, unit, disposition, queue,
  seat, wait and talk (whole seconds of the PBX clock), who hung up. Keys and rings are
  not in Asterisk's ledger (no DTMF, rings only as RINGNOANSWER), so they are not asked
  of a rebuilt record.

The "kill" is what SIGKILL leaves behind in this one process: the AMI link and the
FastAGI server drop at once, the writer stops without a last flush (its spool journal
stays on disk as written), and the live model and the record builder's drafts are
thrown away; the restarted parts are fresh objects on the same spool and database.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agi.protocol.server import FastAgiServer
from ami.fanout import FanOut
from ami.node import NodeConfig, PbxNode
from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.live.live_state import LiveState
from callcenter.records.models import CallRecord
from callcenter.records.reconcile import Reconciler
from callcenter.records.store import DialedUnit
from callcenter.records.wiring import RecordsSystem, build_records
from pbxsim.demo import DemoTraffic
from pbxsim.ledger import CallOutcome
from tests.queues.sim import SECRET, USER, Sim, start_pbx, wait_until
from tests.records.test_simulated_day import (
    DAY_START,
    UNITS,
    assert_disposition,
    assert_record,
    start_ivr,
    traffic_options,
    within,
)

pytestmark = pytest.mark.db

SPEED = 300.0
START = DAY_START + 9 * 3600  # the morning peak
KILL_AT = START + 50 * 60
STOP_AT = START + 90 * 60
STOP_FOR_S = 15 * 60
END = START + 140 * 60
MAX_WAIT_S = 60


@dataclass
class Service:
    """The parts of one service process that follow the PBX."""

    live: LiveState
    records: RecordsSystem
    node: PbxNode
    writer: asyncio.Task[None]
    ivr: FastAgiServer


def routes(dialed: str) -> DialedUnit | None:
    unit = UNITS.get(dialed)
    return DialedUnit(unit, "市本级", "merge") if unit else None


async def start_service(
    sim: Sim, sessions: async_sessionmaker[AsyncSession], spool: Path, wrapups: dict[str, int]
) -> Service:
    live = LiveState(sim.scheduler.now)
    ivr = await start_ivr(sessions, live)
    sim.system.pbx.agi_connect_to = ("127.0.0.1", ivr.port)
    records = build_records(
        sessions, live, spool, routes=routes, flush_every_s=0.2, queue_wrapup=wrapups
    )
    node = PbxNode(
        NodeConfig("pbx1", "127.0.0.1", sim.port, USER, SECRET, action_timeout=10.0),
        FanOut([live, records.listener]),
    )
    node.start()
    writer = asyncio.create_task(records.writer.run())
    await asyncio.wait_for(live.synced.wait(), 10)
    return Service(live, records, node, writer, ivr)


async def kill(service: Service, sim: Sim) -> None:
    """What SIGKILL leaves: nothing flushed, nothing said goodbye to."""
    service.writer.cancel()
    await asyncio.gather(service.writer, return_exceptions=True)
    await service.node.stop()
    await service.ivr.stop()
    service.records.writer.spool.close()
    sim.system.pbx.agi_connect_to = ("127.0.0.1", 9)  # nobody listens: the fallback


async def stop(service: Service) -> None:
    await wait_until(lambda: not service.records.builder.open, 60)
    service.writer.cancel()
    await asyncio.gather(service.writer, return_exceptions=True)
    await service.node.stop()
    await service.ivr.stop()
    await service.records.writer.flush()
    service.records.writer.spool.close()


def affected(call: CallOutcome, windows: list[tuple[float, float]]) -> bool:
    """A call that overlapped a fault: the service did not see it whole."""
    ended = call.arrival + 4 * 3600 if call.ended_at is None else call.ended_at
    return any(call.arrival <= to and ended >= since for since, to in windows)


def assert_ledger_fields(row: CallRecord, call: CallOutcome) -> None:
    what = (call.linkedid, call.caller_number, row.source, row.timeline)
    assert row.caller == call.caller_number and row.dialed == call.dialed_number, what
    assert row.unit == UNITS.get(call.dialed_number, ""), what
    assert_disposition(row, call, what)
    assert row.queue == call.queue, what
    if call.queue_exit == "answered":
        assert row.seat == f"seat-{call.seat}", what
        assert call.talk_time is not None and call.talk_time_max is not None
        assert within(row.talk_s, call.talk_time, call.talk_time_max), what
    else:
        assert row.seat == "", what
    if call.queue_exit in ("answered", "gave_up", "left_with_key"):
        assert call.waited is not None and call.waited_max is not None
        assert row.wait_s is not None and within(row.wait_s, call.waited, call.waited_max), what
    assert row.hangup_by == call.hangup_by, what


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_kill_and_outage_leave_one_true_record_per_call(
    database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    sim = await start_pbx(0, speed=SPEED, start=START, ledger_url=database_url)
    sim.system.pbx.globals["HOTLINE_MAX_WAIT"] = str(MAX_WAIT_S)
    wrapups = {q.name: q.config.wrapuptime for q in sim.system.queues.queues.values()}
    spool = tmp_path / "spool"
    clock: Callable[[], datetime] = lambda: datetime.fromtimestamp(sim.scheduler.now(), UTC)  # noqa: E731
    service = await start_service(sim, sessions, spool, wrapups)
    traffic = DemoTraffic(sim.system, sim.scheduler, random.Random(2026), traffic_options(END))
    traffic.start()
    windows: list[tuple[float, float]] = []
    try:
        await wait_until(lambda: sim.scheduler.now() >= KILL_AT, 120)
        killed_at = sim.scheduler.now()
        await kill(service, sim)
        service = await start_service(sim, sessions, spool, wrapups)
        windows.append((killed_at, sim.scheduler.now()))

        await wait_until(lambda: sim.scheduler.now() >= STOP_AT, 120)
        stopped_at = sim.scheduler.now()
        await kill(service, sim)
        await wait_until(lambda: sim.scheduler.now() >= stopped_at + STOP_FOR_S, 60)
        service = await start_service(sim, sessions, spool, wrapups)
        windows.append((stopped_at, sim.scheduler.now()))

        ledger = traffic.ledger
        await wait_until(lambda: sim.scheduler.now() >= END and ledger.in_progress == 0, 120)
        await stop(service)
        assert sim.ledger is not None
        await sim.ledger.close()
        report = await Reconciler(sessions, service.records.store, "pbx1", clock).run(
            datetime.fromtimestamp(START - 3600, UTC), datetime.fromtimestamp(END + 3600, UTC)
        )
    finally:
        traffic.stop()
        await sim.server.stop()
    calls = list(traffic.ledger)
    async with sessions() as session:
        rows = {r.linkedid: r for r in (await session.scalars(select(CallRecord))).all()}
    await engine.dispose()

    hit = [c for c in calls if affected(c, windows)]
    print(
        f"{len(calls)} calls, {len(hit)} overlapped a fault; reconciliation: "
        f"{report.ledger_calls} in the ledger, {len(report.rebuilt)} rebuilt, "
        f"{report.corrected} corrected, {len(report.unexplained)} unexplained"
    )
    # the run exercised what it is about: calls missed while down, calls cut by the kill
    assert len(calls) > 200 and report.rebuilt and len(hit) > 10
    assert not report.unexplained and not report.error
    # every call placed has exactly one record, and nothing else has one
    assert set(rows) == {c.linkedid for c in calls}
    for call in calls:
        row = rows[call.linkedid]
        if call in hit:
            assert_ledger_fields(row, call)
        else:
            assert_record(row, call, MAX_WAIT_S)
