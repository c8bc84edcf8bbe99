"""pbxsim writes Asterisk's ledger into SQLite and PostgreSQL: the rows of a busy stretch
of simulated traffic agree with the traffic's own account of every call, and the writer
keeps rows through a failing database."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from pbxsim.asterisk_ledger import AsteriskLedger, QueueLogRow, RowSink, pbx_apps
from pbxsim.asterisk_ledger_db import (
    TABLES,
    LedgerWriter,
    create_tables,
    ledger_engine,
    start_ledger,
)
from pbxsim.clock import VirtualScheduler
from pbxsim.demo import DemoOptions, DemoTraffic
from pbxsim.events import EventBus
from pbxsim.ledger import CallOutcome
from pbxsim.server import main, parser
from pbxsim.telephony.pbx import build_pbx
from pbxsim.traffic import CallerMix, Distribution, SeatBehaviour

CONF = Path(__file__).resolve().parents[2] / "asterisk-conf"
START = 1_796_168_700.0
Rows = list[dict[str, Any]]


async def read_back(url: str) -> dict[str, Rows]:
    engine = ledger_engine(url)
    try:
        async with engine.connect() as conn:
            out: dict[str, Rows] = {}
            for name, table in TABLES.items():
                order = table.c.id if "id" in table.c else table.c.sequence
                result = await conn.execute(select(table).order_by(order))
                out[name] = [dict(r._mapping) for r in result]
            return out
    finally:
        await engine.dispose()


def near(value: str, expected: float | None, expected_max: float | None) -> bool:
    """A whole-second column against the traffic's interval (app_queue truncates)."""
    assert expected is not None
    high = expected_max if expected_max is not None else expected
    return expected - 1 <= int(value) <= high + 1


def check_call(call: CallOutcome, rows: dict[str, Rows]) -> None:
    cel = [r for r in rows["cel"] if r["linkedid"] == call.linkedid]
    assert [r["eventtype"] for r in cel].count("LINKEDID_END") == 1, call.linkedid
    assert cel[-1]["eventtype"] == "LINKEDID_END"
    start = next(r for r in cel if r["eventtype"] == "CHAN_START")
    assert start["uniqueid"] == call.linkedid and start["exten"] == call.dialed_number
    assert isinstance(start["eventtime"], datetime)
    qlog = [r for r in rows["queue_log"] if r["callid"] == call.linkedid]
    events = [r["event"] for r in qlog]
    assert events[0] == "ENTERQUEUE" and qlog[0]["queuename"] == call.queue
    assert qlog[0]["data2"] == call.caller_number
    if call.queue_exit == "answered":
        connect = next(r for r in qlog if r["event"] == "CONNECT")
        assert connect["agent"] == f"seat-{call.seat}"
        assert near(connect["data1"], call.waited, call.waited_max)
        seat_leg = next(r for r in cel if r["uniqueid"] == connect["data2"])
        assert seat_leg["channame"].startswith(f"PJSIP/{call.seat}-")
        complete = qlog[-1]
        assert complete["event"] == (
            "COMPLETEAGENT" if call.hangup_by == "agent" else "COMPLETECALLER"
        )
        assert near(complete["data2"], call.talk_time, call.talk_time_max)
        assert "ABANDON" not in events
    elif call.queue_exit == "gave_up":
        assert events[-1] == "ABANDON" and "CONNECT" not in events
        assert near(qlog[-1]["data3"], call.waited, call.waited_max)
    elif call.queue_exit == "timeout":
        assert events[-1] == "EXITWITHTIMEOUT" and "CONNECT" not in events
    cdr = [r for r in rows["cdr"] if r["uniqueid"] == call.linkedid]
    assert cdr and all(r["linkedid"] == call.linkedid for r in cdr)
    assert {r["src"] for r in cdr} == {call.caller_number}


def simulate(sink: RowSink) -> DemoTraffic:
    """An hour and a half of traffic on six seats, as fast as it computes. Run in a
    thread: a VirtualScheduler run has no sockets (AGI() fails at once and the
    dialplan's fallback queues the caller) and the writer flushes on the test's loop."""
    scheduler = VirtualScheduler(START)
    bus = EventBus()
    system = build_pbx(
        scheduler,
        bus,
        random.Random(3),
        extensions_conf=CONF / "extensions.conf",
        queues_conf=CONF / "queues.conf",
    )
    system.pbx.globals["HOTLINE_MAX_WAIT"] = "60"
    AsteriskLedger(scheduler.now, sink, pbx_apps(system.pbx)).attach(bus)
    options = DemoOptions(
        seats=6,
        calls_per_hour=120,
        mix=CallerMix(patience=Distribution.lognormal(60.0, 1.2)),
        until=START + 5400,
        seat_behaviour=SeatBehaviour(no_answer_probability=0.1),
    )
    traffic = DemoTraffic(system, scheduler, random.Random(7), options)
    traffic.start()
    scheduler.run(until=START + 9000)
    return traffic


@pytest.mark.db
async def test_traffic_ledger_agrees_with_every_call(database_url: str) -> None:
    """Every call of pbxsim's outcome ledger has its CEL, queue_log and CDR rows in
    the database, consistent with what became of it."""
    writer = LedgerWriter.for_url(database_url, create=True)
    await writer.start()
    traffic = await asyncio.to_thread(simulate, writer.add)
    await writer.close()
    assert writer.pending == 0 and writer.failures == 0
    calls = list(traffic.ledger)
    assert len(calls) > 100 and all(c.ended for c in calls)
    assert {c.queue_exit for c in calls} == {"answered", "gave_up", "timeout"}
    rows = await read_back(database_url)
    for call in calls:
        check_call(call, rows)
    ends = [r["linkedid"] for r in rows["cel"] if r["eventtype"] == "LINKEDID_END"]
    assert sorted(ends) == sorted(c.linkedid for c in calls)
    assert rows["queue_log"][0]["event"] == "QUEUESTART"
    assert sum(r["event"] == "ADDMEMBER" for r in rows["queue_log"]) == 6 * 3
    assert [r["sequence"] for r in rows["cdr"]] == list(range(len(rows["cdr"])))


@pytest.mark.db
async def test_writer_retries_until_the_tables_exist(database_url: str) -> None:
    """Rows written while the database refuses them (no tables yet) are kept, in
    order, and land once it accepts them; the flush runs on its own every interval."""
    engine = ledger_engine(database_url)
    writer = LedgerWriter(engine, interval=0.02, retry_max=0.05)
    await writer.start()
    rows = [
        QueueLogRow(datetime(2026, 12, 1, 23, 45, i), f"c{i}", "q", "NONE", "ENTERQUEUE")
        for i in range(5)
    ]
    for row in rows[:3]:
        writer.add(row)
    for _ in range(200):
        if writer.failures >= 2:
            break
        await asyncio.sleep(0.01)
    assert writer.failures >= 2 and writer.pending == 3
    async with engine.begin() as conn:
        await create_tables(conn)
    for row in rows[3:]:
        writer.add(row)
    for _ in range(300):
        if writer.pending == 0:
            break
        await asyncio.sleep(0.01)
    assert writer.pending == 0 and writer.written == 5
    await writer.close()
    got = await read_back(database_url)
    assert [r["callid"] for r in got["queue_log"]] == [f"c{i}" for i in range(5)]
    assert got["queue_log"][0]["time"] == datetime(2026, 12, 1, 23, 45, 0)


@pytest.mark.db
async def test_start_ledger_writes_what_the_pbx_does(database_url: str) -> None:
    """What `--ledger-url` runs: QUEUESTART, then the PBX's rows, flushed at close."""
    scheduler = VirtualScheduler(START)
    system = build_pbx(
        scheduler,
        EventBus(),
        random.Random(1),
        extensions_conf=CONF / "extensions.conf",
        queues_conf=CONF / "queues.conf",
    )
    writer = await start_ledger(system.pbx, database_url, create=True)
    system.queues.add_member("hotline-general", "PJSIP/1001", membername="1001")
    await writer.close()
    got = await read_back(database_url)
    assert [(r["event"], r["agent"], r["callid"]) for r in got["queue_log"]] == [
        ("QUEUESTART", "NONE", "NONE"),
        ("ADDMEMBER", "1001", "MANAGER"),
    ]
    # queue_log.time is UTC whatever the PBX's zone
    assert got["queue_log"][1]["time"] == datetime.fromtimestamp(START, UTC).replace(tzinfo=None)


@pytest.mark.db
async def test_create_is_idempotent_and_uses_the_schema(database_url: str) -> None:
    engine = ledger_engine(database_url)
    try:
        for _ in range(2):
            async with engine.begin() as conn:
                await create_tables(conn)
        async with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                found = await conn.execute(
                    text(
                        "select table_name from information_schema.tables "
                        "where table_schema = 'asterisk' order by table_name"
                    )
                )
            else:
                found = await conn.execute(
                    text("select name from sqlite_master where type = 'table' order by name")
                )
            assert [r[0] for r in found] == ["cdr", "cel", "queue_log"]
    finally:
        await engine.dispose()


def test_command_line_flags() -> None:
    args = parser().parse_args(
        ["--ami-secret", "s", "--ledger-url", "sqlite+aiosqlite:///x.db", "--ledger-create"]
    )
    assert args.ledger_url == "sqlite+aiosqlite:///x.db" and args.ledger_create
    args = parser().parse_args(["--ami-secret", "s"])
    assert args.ledger_url is None and not args.ledger_create
    # agents who let a call ring out, and how soon they are back from the auto-pause
    assert (args.no_answer_share, args.back_from_auto_pause_s) == (0.05, 60.0)
    args = parser().parse_args(
        ["--ami-secret", "s", "--no-answer-share", "0.2", "--back-from-auto-pause-s", "-1"]
    )
    assert (args.no_answer_share, args.back_from_auto_pause_s) == (0.2, -1.0)
    with pytest.raises(SystemExit):
        main(["--ami-secret", "s", "--no-answer-share", "2"])


def test_ledger_follows_an_attached_bus_only() -> None:
    """Detaching stops the rows (the harnesses share one bus between runs)."""
    scheduler = VirtualScheduler(START)
    bus = EventBus()
    system = build_pbx(
        scheduler,
        bus,
        random.Random(1),
        extensions_conf=CONF / "extensions.conf",
        queues_conf=CONF / "queues.conf",
    )
    rows: list[Any] = []
    detach = AsteriskLedger(scheduler.now, rows.append, pbx_apps(system.pbx)).attach(bus)
    system.queues.add_member("hotline-general", "PJSIP/1001", membername="1001")
    detach()
    system.queues.add_member("hotline-housing", "PJSIP/1001", membername="1001")
    assert [r.event for r in rows] == ["QUEUESTART", "ADDMEMBER"]


@pytest.mark.db
async def test_harness_pbx_writes_the_ledger_while_it_runs(database_url: str) -> None:
    """The queue tests' PBX (tests/queues/sim.py) on the asyncio clock: a call's rows
    reach the database while the PBX runs, through the periodic flush."""
    from tests.queues.sim import start_pbx

    sim = await start_pbx(1, ledger_url=database_url, ledger_create=True)
    try:
        sim.system.queues.add_member("hotline-general", "PJSIP/1001", membername="1001")
        caller = sim.call("13900000001")
        rows: dict[str, Rows] = {}
        for _ in range(100):
            await asyncio.sleep(0.1)
            rows = await read_back(database_url)
            if any(r["eventtype"] == "LINKEDID_END" for r in rows["cel"]):
                break
        assert sim.ledger is not None and sim.ledger.pending == 0
        events = [r["event"] for r in rows["queue_log"] if r["callid"] == caller.uniqueid]
        assert events == ["ENTERQUEUE", "CONNECT", "COMPLETEAGENT"]
        kinds = [r["eventtype"] for r in rows["cel"] if r["uniqueid"] == caller.uniqueid]
        assert kinds[0] == "CHAN_START" and kinds[-1] == "LINKEDID_END"
        # the bridged record, then (the caller goes on to the survey) a fresh one
        cdr = rows["cdr"]
        assert {(r["uniqueid"], r["linkedid"]) for r in cdr} == {(caller.uniqueid,) * 2}
        assert cdr[0]["dstchannel"].startswith("PJSIP/1001-") and cdr[0]["lastapp"] == "Queue"
        assert cdr[0]["dst"] == "s" and cdr[0]["dcontext"] == "hotline-queue"
    finally:
        await sim.server.stop()
        if sim.ledger is not None:
            await sim.ledger.close()
