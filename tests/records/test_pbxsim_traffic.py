"""Traffic on pbxsim over a real AMI socket: every call the test placed has exactly one
record, dispositions match what the callers did, KPIs equal the test's own ledger and
pbxsim's app_queue counters, and the database going away mid-traffic loses or doubles
nothing (records wait in the spool)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from ami.actions import queue_add
from ami.fanout import FanOut
from ami.node import NodeConfig, PbxNode
from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.live.live_state import LiveState
from callcenter.records import kpi
from callcenter.records.models import CallRecord
from callcenter.records.wiring import build_records
from pbxsim.telephony.softphone import fixed_policy
from tests.queues.sim import SECRET, USER, start_pbx, wait_until
from tests.records.test_store import UNREACHABLE

SEATS = 3


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_every_call_one_record_with_db_outage(database_url: str, tmp_path: Path) -> None:
    sim = await start_pbx(SEATS, policy=lambda ext: fixed_policy(0.5, 6.0))
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    live = LiveState(sim.scheduler.now)
    records = build_records(sessions, live, tmp_path / "spool", flush_every_s=0.05)
    node = PbxNode(
        NodeConfig("pbx1", "127.0.0.1", sim.port, USER, SECRET, action_timeout=5.0),
        FanOut([live, records.listener]),
    )
    node.start()
    writer = asyncio.create_task(records.writer.run())
    dead = create_engine(UNREACHABLE)
    try:
        await asyncio.wait_for(live.synced.wait(), 10)
        for i in range(SEATS):
            assert await queue_add(
                node, "hotline-general", f"PJSIP/{1001 + i}", member_name=f"s{1001 + i}"
            )
        # wave 1: 8 callers at once; 3 are answered at once, 2 of the waiting hang up
        wave1 = [sim.call(f"1390000{n:04d}") for n in range(8)]
        state = live.nodes["pbx1"]
        await wait_until(lambda: len(state.queues["hotline-general"].entries) == 5, 10)
        await asyncio.sleep(10 / 20)  # 10 s of PBX time in queue: real abandons (> 5 s)
        waiting = list(state.queues["hotline-general"].entries.values())[-2:]
        quitters = {e.caller_id_num for e in waiting}
        for channel in wave1:
            if channel.caller_num in quitters:
                sim.hang_up(channel)
        # the database goes away; wave 2 (4 callers) and the end of wave 1 happen
        records.store.sessions = session_factory(dead)
        wave2 = [sim.call(f"1380000{n:04d}") for n in range(4)]
        await wait_until(lambda: records.writer.failures > 0, 10)
        await wait_until(lambda: records.builder.finished == 12, 30)
        assert records.writer.spool.sealed(), "records wait on disk while the DB is away"
        records.store.sessions = sessions  # the database is back
        await wait_until(
            lambda: records.writer.database_ok and not records.writer.spool.sealed(), 10
        )
    finally:
        writer.cancel()
        await node.stop()
        await sim.server.stop()
        await dead.dispose()
    async with sessions() as s:
        rows = {r.caller: r for r in (await s.scalars(select(CallRecord))).all()}
        placed = {c.caller_num for c in wave1 + wave2}
        assert set(rows) == placed  # exactly one record per call placed (callers unique)
        for caller, row in rows.items():
            expected = "abandoned" if caller in quitters else "answered"
            assert row.disposition == expected, (caller, row.timeline)
            assert row.queue == "hotline-general" and row.dialed == "12345"
            if expected == "answered":
                assert row.seat.startswith("s10") and row.talk_s >= 5
                assert any(r["outcome"] == "answered" for r in row.rings)
            else:
                assert row.wait_s is not None and row.wait_s > 5 and row.hangup_by == "caller"
        (day,) = await kpi.compute(s, 0, int(time.time()) + 86400 * 365 * 10)
    queue = sim.queues.queues["hotline-general"]
    assert day.offered == 12 and day.answered == 10 and day.abandoned == 2
    assert day.answered == queue.completed and day.abandoned == queue.abandoned
    await engine.dispose()
