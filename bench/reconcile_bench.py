"""Reconciling the records with Asterisk's ledger (callcenter/records/reconcile.py).

The ledger rows are generated with the shapes of the real ones Asterisk 22.10.1 wrote
(tests/fixtures/ledger/): per call 14 CEL rows (the caller's channel and the seat's:
CHAN_START, ANSWER, APP_START, BRIDGE_ENTER/EXIT, HANGUP with its JSON extra,
CHAN_END, LINKEDID_END), one CDR row, and queue_log ENTERQUEUE + CONNECT +
COMPLETECALLER for an answered call or ENTERQUEUE + ABANDON.

- `reconcile_day_s`: one run over a day of 20,000 finished calls whose records all
  agree with the ledger (nothing to fix), PostgreSQL, with table statistics.
- `rebuild_1k_calls_s`: one run over 1,000 calls that have no record (all rebuilt).

On PostgreSQL (CALLCENTER_TEST_POSTGRES_URL, a throw-away database); without it on
SQLite under `*_sqlite*` keys, which have no target.
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
import time
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, text

from bench.records_bench import _postgres
from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.records.builder import FinishedCall
from callcenter.records.ledger import CDR, CEL, QUEUE_LOG
from callcenter.records.ledger_calls import CelRow, QueueRow, build_calls
from callcenter.records.reconcile import Reconciler, rebuild
from callcenter.records.store import DialedUnit, RecordStore

DAY_CALLS = 20_000
REBUILD_CALLS = 1_000
DAY0 = datetime(2026, 12, 1, tzinfo=UTC)
NUMBERS = ["12345", "12345", "12345", "043266453987", "043263110058", "12333"]
ROUTES = {
    "043266453987": DialedUnit("U001", "市本级", "merge"),
    "043263110058": DialedUnit("U003", "市本级", "dock"),
    "12333": DialedUnit("U001", "市本级", "retain"),
}
QUEUES = ["hotline-general", "hotline-social-security", "hotline-housing"]
INSERT_CHUNK = 5_000


def _cel(kind: str, at: datetime, channel: str, uid: str, lid: str, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "eventtype": kind,
        "eventtime": at.replace(tzinfo=None),
        "userdeftype": "",
        "cid_name": extra.get("cid_name", "caller"),
        "cid_num": extra.get("cid_num", ""),
        "cid_ani": "",
        "cid_rdnis": "",
        "cid_dnid": "",
        "exten": extra.get("exten", "s"),
        "context": extra.get("context", "hotline-queue"),
        "channame": channel,
        "appname": extra.get("appname", ""),
        "appdata": extra.get("appdata", ""),
        "amaflags": 3,
        "accountcode": "",
        "peeraccount": "",
        "uniqueid": uid,
        "linkedid": lid,
        "userfield": "",
        "peer": "",
        "extra": extra.get("extra", ""),
    }
    return row


def _q(at: datetime, lid: str, queue: str, agent: str, event: str, *data: str) -> dict[str, Any]:
    d = [*data, "", "", "", "", ""][:5]
    return {
        "time": at.replace(tzinfo=None),
        "callid": lid,
        "queuename": queue,
        "agent": agent,
        "event": event,
        **{f"data{i + 1}": d[i] for i in range(5)},
    }


def ledger_day(n: int, seed: int = 11) -> dict[str, list[dict[str, Any]]]:
    """`n` finished inbound calls over one day, in the real rows' shapes."""
    rng = random.Random(seed)
    cel: list[dict[str, Any]] = []
    queue_log: list[dict[str, Any]] = []
    cdr: list[dict[str, Any]] = []
    for i in range(n):
        start = DAY0 + timedelta(seconds=rng.uniform(0, 86_000))
        lid = f"{int(start.timestamp())}.{i}"
        caller = f"139{rng.randrange(10**8):08d}"
        dialed, queue = rng.choice(NUMBERS), rng.choice(QUEUES)
        trunk = f"PJSIP/trunk-{i:08x}"
        joined = start + timedelta(seconds=16)
        wait = rng.randint(0, 40)
        answered = rng.random() < 0.85
        root = {"cid_num": caller}
        cel.append(
            _cel("CHAN_START", start, trunk, lid, lid, exten=dialed, context="from-trunk", **root)
        )
        cel.append(
            _cel("ANSWER", start, trunk, lid, lid, exten=dialed, context="from-trunk", **root)
        )
        cel.append(_cel("APP_START", joined, trunk, lid, lid, appname="Queue", **root))
        queue_log.append(_q(joined, lid, queue, "NONE", "ENTERQUEUE", "", caller, "1"))
        if answered:
            seat = f"{1001 + rng.randrange(300)}"
            seat_uid = f"{lid}9"
            seat_chan = f"PJSIP/{seat}-{i:08x}"
            connect = joined + timedelta(seconds=wait)
            talk = rng.randint(10, 400)
            end = connect + timedelta(seconds=talk)
            leg = {"cid_name": f"seat {seat}", "cid_num": seat, "context": "from-seats"}
            cel.append(_cel("CHAN_START", connect, seat_chan, seat_uid, lid, **leg))
            cel.append(_cel("ANSWER", connect, seat_chan, seat_uid, lid, **leg))
            cel.append(_cel("BRIDGE_ENTER", connect, trunk, lid, lid, **root))
            cel.append(_cel("BRIDGE_ENTER", connect, seat_chan, seat_uid, lid, **leg))
            cel.append(_cel("BRIDGE_EXIT", end, seat_chan, seat_uid, lid, **leg))
            cel.append(_cel("BRIDGE_EXIT", end, trunk, lid, lid, **root))
            hung = json.dumps({"hangupcause": 16, "hangupsource": trunk, "dialstatus": ""})
            cel.append(_cel("HANGUP", end, seat_chan, seat_uid, lid, extra=hung, **leg))
            cel.append(_cel("CHAN_END", end, seat_chan, seat_uid, lid, **leg))
            queue_log.append(_q(connect, lid, queue, seat, "CONNECT", str(wait), seat_uid, "1"))
            queue_log.append(_q(end, lid, queue, seat, "COMPLETECALLER", str(wait), str(talk), "1"))
        else:
            end = joined + timedelta(seconds=wait)
            queue_log.append(_q(end, lid, queue, "NONE", "ABANDON", "1", "1", str(wait)))
        hung = json.dumps({"hangupcause": 16, "hangupsource": trunk, "dialstatus": "ANSWER"})
        cel.append(_cel("HANGUP", end, trunk, lid, lid, extra=hung, **root))
        cel.append(_cel("CHAN_END", end, trunk, lid, lid, **root))
        cel.append(_cel("LINKEDID_END", end, trunk, lid, lid, **root))
        cdr.append(
            {
                "src": caller,
                "dst": "s",
                "dcontext": "hotline-queue",
                "clid": f'"caller" <{caller}>',
                "channel": trunk,
                "lastapp": "Queue",
                "lastdata": f"{queue},tc,,,1800",
                "start": start.replace(tzinfo=None),
                "answer": start.replace(tzinfo=None),
                "end": end.replace(tzinfo=None),
                "duration": int((end - start).total_seconds()),
                "billsec": int((end - start).total_seconds()),
                "disposition": "ANSWERED",
                "amaflags": "DOCUMENTATION",
                "uniqueid": lid,
                "linkedid": lid,
                "sequence": i,
            }
        )
    return {"cel": cel, "queue_log": queue_log, "cdr": cdr}


def records_of(rows: dict[str, list[dict[str, Any]]]) -> list[FinishedCall]:
    """The records the live builder would have written for these calls (agreeing)."""
    cel = [CelRow(**{f.name: r[f.name] for f in fields(CelRow)}) for r in rows["cel"]]
    queue = [QueueRow(**{f.name: r[f.name] for f in fields(QueueRow)}) for r in rows["queue_log"]]
    return [rebuild("pbx1", call) for call in build_calls(cel, queue)]


async def _load(url: str, rows: dict[str, list[dict[str, Any]]]) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        for table, name in ((CEL, "cel"), (QUEUE_LOG, "queue_log"), (CDR, "cdr")):
            data = rows[name]
            for start in range(0, len(data), INSERT_CHUNK):
                await conn.execute(insert(table), data[start : start + INSERT_CHUNK])
    await engine.dispose()


async def _measure(url: str, calls: int, with_records: bool) -> tuple[float, int, int]:
    engine = create_engine(url)
    await migrate.upgrade(engine)
    await engine.dispose()
    rows = ledger_day(calls)
    await _load(url, rows)
    engine = create_engine(url)
    sessions = session_factory(engine)
    store = RecordStore(sessions, ROUTES.get)
    if with_records:
        records = records_of(rows)
        for start in range(0, len(records), 500):
            await store.upsert(records[start : start + 500])
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            for table in ("asterisk.cel", "asterisk.queue_log", "asterisk.cdr", "call_records"):
                await conn.execute(text(f"ANALYZE {table}"))
    reconciler = Reconciler(sessions, store, "pbx1", lambda: DAY0 + timedelta(days=2))
    t0 = time.perf_counter()
    report = await reconciler.run(DAY0, DAY0 + timedelta(days=1))
    elapsed = time.perf_counter() - t0
    await engine.dispose()
    if report.error or report.ledger_calls != calls:
        raise RuntimeError(f"reconciliation went wrong: {report.error or report.ledger_calls}")
    return elapsed, len(report.rebuilt), report.corrected


async def _one(calls: int, with_records: bool) -> tuple[float, str, int, int]:
    pg = await _postgres()
    with tempfile.TemporaryDirectory() as tmp:
        if pg is not None:
            url, admin, name = pg
            suffix = ""
        else:
            url, admin, name = f"sqlite+aiosqlite:///{tmp}/bench.db", None, ""
            suffix = "_sqlite"
        try:
            elapsed, rebuilt, corrected = await _measure(url, calls, with_records)
        finally:
            if admin is not None:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.close()
    return elapsed, suffix, rebuilt, corrected


async def _run() -> dict[str, float]:
    day_s, suffix, rebuilt, corrected = await _one(DAY_CALLS, True)
    if rebuilt or corrected:
        raise RuntimeError(f"a day that agrees: {rebuilt} rebuilt, {corrected} corrected")
    rebuild_s, suffix2, rebuilt, _ = await _one(REBUILD_CALLS, False)
    if rebuilt != REBUILD_CALLS:
        raise RuntimeError(f"rebuilt {rebuilt} of {REBUILD_CALLS}")
    return {
        f"reconcile_day{suffix}_s": round(day_s, 3),
        f"rebuild_1k_calls{suffix2}_s": round(rebuild_s, 3),
    }


def bench_reconcile() -> dict[str, float]:
    return asyncio.run(_run())
