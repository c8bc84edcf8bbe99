"""Writes the ledger rows of `asterisk_ledger` into a database, as cdr_pgsql, cel_pgsql
and res_config_pgsql do: PostgreSQL tables `asterisk.cdr/cel/queue_log`, or on SQLite
(no schemas) plain `cdr/cel/queue_log`, with the columns of Asterisk's realtime scripts.

The PBX's event loop only appends to a buffer; a task flushes it every `interval`
seconds in one transaction per batch. A failed write is logged and retried with the
same rows (in order) until it succeeds or the writer is closed: rows are never dropped
while the process lives. The buffer is bounded only by memory: past `high_water` rows a
warning says the database is falling behind, because losing rows would defeat the
ledger's purpose (it is the record that survives the service's failures).

The tables normally exist (the product's migration creates them); `create=True` makes
them from this module's own copy of the DDL when missing, for tests and the demo.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from pbxsim.asterisk_ledger import AsteriskLedger, LedgerRow, pbx_apps
from pbxsim.telephony.pbx import Pbx

log = logging.getLogger("pbxsim.ledger")

SCHEMA = "asterisk"
metadata = MetaData(schema=SCHEMA)
_ID = BigInteger().with_variant(Integer, "sqlite")

cdr = Table(
    "cdr",
    metadata,
    Column("accountcode", String(80)),
    Column("src", String(80)),
    Column("dst", String(80)),
    Column("dcontext", String(80)),
    Column("clid", String(80)),
    Column("channel", String(80)),
    Column("dstchannel", String(80)),
    Column("lastapp", String(80)),
    Column("lastdata", String(80)),
    Column("start", DateTime),
    Column("answer", DateTime),
    Column("end", DateTime),
    Column("duration", Integer),
    Column("billsec", Integer),
    Column("disposition", String(45)),
    Column("amaflags", String(45)),
    Column("userfield", String(256)),
    Column("uniqueid", String(150)),
    Column("linkedid", String(150)),
    Column("peeraccount", String(80)),
    Column("sequence", Integer),
)

cel = Table(
    "cel",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("eventtype", String(30)),
    Column("eventtime", DateTime),
    Column("userdeftype", String(255)),
    Column("cid_name", String(80)),
    Column("cid_num", String(80)),
    Column("cid_ani", String(80)),
    Column("cid_rdnis", String(80)),
    Column("cid_dnid", String(80)),
    Column("exten", String(80)),
    Column("context", String(80)),
    Column("channame", String(80)),
    Column("appname", String(80)),
    Column("appdata", String(512)),
    Column("amaflags", Integer),
    Column("accountcode", String(20)),
    Column("peeraccount", String(20)),
    Column("uniqueid", String(150)),
    Column("linkedid", String(150)),
    Column("userfield", String(255)),
    Column("peer", String(80)),
    Column("extra", String(512)),
)

queue_log = Table(
    "queue_log",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("time", DateTime),
    Column("callid", String(80)),
    Column("queuename", String(256)),
    Column("agent", String(80)),
    Column("event", String(32)),
    Column("data1", String(100)),
    Column("data2", String(100)),
    Column("data3", String(100)),
    Column("data4", String(100)),
    Column("data5", String(100)),
)

TABLES = {"cdr": cdr, "cel": cel, "queue_log": queue_log}


def ledger_engine(url: str) -> AsyncEngine:
    """An engine whose `asterisk.` tables are plain tables on SQLite."""
    engine = create_async_engine(url)
    if engine.dialect.name == "sqlite":
        engine = engine.execution_options(schema_translate_map={SCHEMA: None})
    return engine


async def create_tables(conn: AsyncConnection) -> None:
    """The three tables (and on PostgreSQL the schema) when missing."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    await conn.run_sync(metadata.create_all, checkfirst=True)


class LedgerWriter:
    """Buffers rows from the PBX and writes them in the background."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        create: bool = False,
        interval: float = 0.2,
        batch: int = 1000,
        high_water: int = 100_000,
        retry_max: float = 5.0,
    ) -> None:
        self.engine = engine
        self.create = create
        self.interval = interval
        self.batch = batch
        self.high_water = high_water
        self.retry_max = retry_max
        self._rows: deque[LedgerRow] = deque()
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._warned = False
        self.written = 0
        self.failures = 0

    @classmethod
    def for_url(cls, url: str, *, create: bool = False) -> LedgerWriter:
        return cls(ledger_engine(url), create=create)

    def add(self, row: LedgerRow) -> None:
        """The PBX's sink: never blocks, never drops."""
        self._rows.append(row)
        if len(self._rows) > self.high_water and not self._warned:
            self._warned = True
            log.warning("ledger: %d rows waiting for the database", len(self._rows))

    @property
    def pending(self) -> int:
        return len(self._rows)

    async def start(self) -> None:
        if self.create:
            async with self.engine.begin() as conn:
                await create_tables(conn)
        self._task = asyncio.create_task(self._run(), name="pbxsim-ledger-writer")

    async def _run(self) -> None:
        delay = self.interval
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
            try:
                await self.flush()
                delay = self.interval
            except Exception:
                self.failures += 1
                delay = min(self.retry_max, max(self.interval, delay * 2))
                log.exception("ledger: write failed, %d rows kept for retry", len(self._rows))

    async def flush(self) -> None:
        """Write everything buffered, batch by batch; a batch leaves the buffer only
        once its transaction committed."""
        while self._rows:
            chunk = [self._rows[i] for i in range(min(self.batch, len(self._rows)))]
            by_table: dict[str, list[dict[str, object]]] = {}
            for row in chunk:
                by_table.setdefault(row.table, []).append(row.values())
            async with self.engine.begin() as conn:
                for name in ("cdr", "cel", "queue_log"):
                    values = by_table.get(name)
                    if values:
                        await conn.execute(TABLES[name].insert(), values)
            for _ in chunk:
                self._rows.popleft()
            self.written += len(chunk)
            if len(self._rows) <= self.high_water:
                self._warned = False

    async def close(self, *, dispose: bool = True) -> None:
        """Stop the task and write what is left (a last failure is logged, not raised).
        A flush in progress is let finish rather than cancelled: a transaction cut off
        while committing could be written again."""
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        try:
            await self.flush()
        except Exception:
            log.exception("ledger: %d rows could not be written at shutdown", len(self._rows))
        if dispose:
            await self.engine.dispose()


async def start_ledger(pbx: Pbx, url: str, *, create: bool = False) -> LedgerWriter:
    """Write this PBX's ledger to `url` from now on (what `--ledger-url` does; the
    in-process harnesses call it too). Close the returned writer to flush."""
    writer = LedgerWriter.for_url(url, create=create)
    await writer.start()
    AsteriskLedger(pbx.scheduler.now, writer.add, pbx_apps(pbx)).attach(pbx.bus)
    return writer
