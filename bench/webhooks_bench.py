"""Webhooks to a local receiver (callcenter/webhooks/), through the real path: call
records upserted by the record store announce `call.offered` and `call.ended` in their
transaction, the dispatcher claims, signs and POSTs them over HTTP to a receiver on a
free local port that answers 204.

- `webhook_deliveries_per_s`: a backlog of 3,000 calls (6,000 deliveries) drained by
  one dispatcher (64 POSTs in flight), on SQLite; `webhook_deliveries_per_s_pg` the
  same on PostgreSQL when CALLCENTER_TEST_POSTGRES_URL (or the default) is reachable.
- `webhook_lag_p99_ms`: 20 events/s (10 calls/s, written as the record writer does,
  every 0.2 s) for 15 s while the dispatcher runs as in `serve`: from the commit of a
  record to its event's arrival at the receiver, 99th percentile (SQLite).
"""

from __future__ import annotations

import asyncio
import json
import socket
import tempfile
import time
from typing import Any

from pydantic import SecretStr
from sqlalchemy import text

from bench.records_bench import _postgres
from callcenter import migrate
from callcenter.clock import SHANGHAI
from callcenter.config import WebhookSubscription
from callcenter.db import create_engine, session_factory
from callcenter.records.announce import Announcer
from callcenter.records.builder import FinishedCall
from callcenter.records.store import RecordStore
from callcenter.webhooks.deliveries import SqlDeliveries
from callcenter.webhooks.dispatcher import Dispatcher, HttpSender
from callcenter.webhooks.outbox import Outbox
from callcenter.webhooks.signing import verify

BACKLOG_CALLS = 3_000
LAG_CALLS_PER_S = 10
LAG_SECONDS = 15
SECRET = "bench-secret-0123456789"
T0 = 1_795_104_000.0


def _call(linkedid: str) -> FinishedCall:
    return FinishedCall(
        node="pbx1",
        linkedid=linkedid,
        started_at=T0,
        ended_at=T0 + 200,
        caller="13900001111",
        dialed="12345",
        unit="",
        confidential=False,
        ivr_keys="",
        prompts=[],
        queues=["hotline-general"],
        queue_exit="answered",
        wait_s=8.0,
        rings=[],
        agent="PJSIP/1001",
        seat="1001",
        talk_s=180.0,
        wrapup_s=10.0,
        transfers=[],
        hangup_by="caller",
        disposition="answered",
        fallback=False,
        recording="",
        timeline=[[0.0, "start", "12345"], [4.0, "queue_join", "hotline-general"]],
    )


class _Receiver:
    """Answers 204 to every POST; notes when each (call, event) first arrived."""

    def __init__(self) -> None:
        self.arrived: dict[tuple[str, str], float] = {}
        self.bad_signatures = 0
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]

    async def serve(self) -> asyncio.Server:
        return await asyncio.start_server(self._serve, "127.0.0.1", self.port, backlog=512)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = dict(
                    line.split(": ", 1) for line in head.decode("latin-1").split("\r\n")[1:] if line
                )
                lower = {k.lower(): v for k, v in headers.items()}
                body = await reader.readexactly(int(lower["content-length"]))
                if not verify(SECRET, body, lower["x-hotline-signature"]):
                    self.bad_signatures += 1
                event = json.loads(body)
                self.arrived.setdefault(
                    (event["data"]["linkedid"], event["type"]), time.perf_counter()
                )
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


async def _setup(url: str, port: int) -> tuple[Any, RecordStore, SqlDeliveries, Dispatcher]:
    engine = create_engine(url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    subs = [
        WebhookSubscription(
            name="bench",
            url=f"http://127.0.0.1:{port}/hooks",
            secret=SecretStr(SECRET),
            events=["call.offered", "call.ended"],
        )
    ]
    outbox = Outbox(subs, SHANGHAI.iso)
    store = RecordStore(sessions, written=Announcer(outbox, SHANGHAI).records_written)
    deliveries = SqlDeliveries(sessions)
    dispatcher = Dispatcher(deliveries, subs, HttpSender(10.0, 64), concurrency=64, poll_s=0.2)
    return engine, store, deliveries, dispatcher


async def _analyze(engine: Any) -> None:
    """Table statistics for PostgreSQL's planner, as autovacuum keeps them in service
    (a backlog loaded into a fresh table would otherwise be planned as one row)."""
    if engine.dialect.name == "postgresql":
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE webhook_deliveries"))


async def _throughput(url: str) -> float:
    receiver = _Receiver()
    server = await receiver.serve()
    engine, store, deliveries, dispatcher = await _setup(url, receiver.port)
    try:
        calls = [_call(f"b.{i}") for i in range(BACKLOG_CALLS)]
        for start in range(0, len(calls), 500):
            await store.upsert(calls[start : start + 500])
        total = sum((await deliveries.counts()).values())
        await _analyze(engine)
        t0 = time.perf_counter()
        running = asyncio.create_task(dispatcher.run())
        try:
            while len(receiver.arrived) < total:
                if running.done():  # the loop died: say why
                    running.result()
                await asyncio.sleep(0.05)
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
        elapsed = time.perf_counter() - t0
        await dispatcher.drain()
        if (await deliveries.counts())["delivered"] != total or receiver.bad_signatures:
            raise RuntimeError("webhooks bench: not every delivery arrived signed, delivered")
        return total / elapsed
    finally:
        await dispatcher.sender.close()
        server.close()
        await engine.dispose()


async def _lag(url: str) -> float:
    receiver = _Receiver()
    server = await receiver.serve()
    engine, store, _, dispatcher = await _setup(url, receiver.port)
    committed: dict[str, float] = {}
    running = asyncio.create_task(dispatcher.run())
    try:
        per_flush = max(1, LAG_CALLS_PER_S // 5)
        n = 0
        t0 = time.perf_counter()
        for tick in range(LAG_SECONDS * 5):
            await asyncio.sleep(max(0.0, t0 + tick * 0.2 - time.perf_counter()))
            batch = [_call(f"l.{n + i}") for i in range(per_flush)]
            n += per_flush
            await store.upsert(batch)
            now = time.perf_counter()
            for record in batch:
                committed[record.linkedid] = now
        deadline = time.perf_counter() + 10
        while len(receiver.arrived) < 2 * n and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        lags = sorted(
            (receiver.arrived[key] - committed[key[0]]) * 1000 for key in receiver.arrived
        )
        if len(lags) < 2 * n:
            raise RuntimeError(f"webhooks bench: {2 * n - len(lags)} events never arrived")
        return lags[int(0.99 * (len(lags) - 1))]
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await dispatcher.sender.close()
        server.close()
        await engine.dispose()


async def _all() -> dict[str, float]:
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["webhook_deliveries_per_s"] = round(
            await _throughput(f"sqlite+aiosqlite:///{tmp}/throughput.db"), 1
        )
        results["webhook_lag_p99_ms"] = round(await _lag(f"sqlite+aiosqlite:///{tmp}/lag.db"), 1)
    postgres = await _postgres()
    if postgres is not None:
        url, admin, name = postgres
        try:
            results["webhook_deliveries_per_s_pg"] = round(await _throughput(url), 1)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    return results


def bench_webhooks() -> dict[str, float]:
    return asyncio.run(_all())
