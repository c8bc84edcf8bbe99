"""Writes finished calls to the database: batched, idempotent, spooled through outages.

Flow: `add()` (called by the builder, inside the AMI reader: never waits) appends the
record to the spool journal and, once `batch_size` records are pending, wakes the
writer; the writer also wakes every `flush_every_s`. A flush seals the journal and
upserts every sealed file in order, in chunks, keyed by (node, linkedid): a replayed
event, a duplicated record or a second service instance updates the same row. If the
database is unreachable the sealed files stay on disk and the writer retries with a
growing pause; meanwhile no more than one journal's records is held in memory (the spool
keeps the journal it sealed last at hand, to spare reading it back).

Nothing accepted is lost, and the writer does not stop (spool.py says how bad files are
quarantined). A failed append (EMFILE, ENOSPC, EIO) keeps the call in an in-memory
backlog, logged and counted; every flush retries the append and, while the disk still
refuses, writes the backlog straight to the database. Past `backlog_limit` calls the
backlog still keeps every call (memory is the lesser loss) but `health()` says not ready,
so `/readyz` fails until the disk or the database takes them. A sealed file that cannot
be read is retried on every flush and, after `read_tries` failures, quarantined. An
error no step expected is logged with its traceback and counted, and `run()` goes on
after a pause.

On PostgreSQL a batch is one statement of column arrays (pg_batch.py); on SQLite a Core
executemany. Both write the same values under the same conflict rules (`_on_conflict`).

Before writing, each batch is completed from the facts other parts stored about the
same Linkedids through facts.py: the survey rating, a callback request (an unanswered
caller who asked for one is `callback_requested`), a confidential mark; and from the
legacy directory's unit, district and mode for the dialed number. Facts that come after
the record was written (a late rating, a mark) update the row themselves (facts.py);
locks.py keeps the two in order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, delete, func, or_, select, tuple_
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.records.builder import FinishedCall
from callcenter.records.facts import known_facts
from callcenter.records.locks import lock_calls
from callcenter.records.models import CallIntake, CallRecord
from callcenter.records.pg_batch import ColumnBatch
from callcenter.records.spool import Spool

log = logging.getLogger(__name__)

UNANSWERED = frozenset({"abandoned", "fallback_routed", "ivr_only"})


@dataclass(frozen=True, slots=True)
class DialedUnit:
    unit: str
    district: str
    mode: str


#: called in the upsert's transaction with the rows as written (announce.py: the
#: webhooks outbox), so what is announced is what was written, no more, no less
RowsWritten = Callable[[AsyncSession, list[dict[str, Any]]], Awaitable[None]]

#: dialed number -> its legacy route (unit, district, mode), or None for 12345 itself
DialedUnitLookup = Callable[[str], DialedUnit | None]


def _no_route(dialed: str) -> DialedUnit | None:
    return None


def _when(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def to_row(record: FinishedCall, route: DialedUnit | None, source: str = "ami") -> dict[str, Any]:
    data = record.to_json()
    data["source"] = source
    data["started_at"] = _when(record.started_at)
    data["ended_at"] = _when(record.ended_at)
    data["start_epoch"] = int(record.started_at)
    data["queue"] = record.queues[0] if record.queues else ""
    data["unit"] = record.unit or (route.unit if route else "")
    data["district"] = route.district if route else ""
    data["mode"] = route.mode if route else ""
    data["dialed"] = record.dialed[:40]
    data["caller"] = record.caller[:40]
    return data


class RecordStore:
    """Upserts call records; knows nothing about AMI."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        route: DialedUnitLookup = _no_route,
        written: RowsWritten | None = None,
    ) -> None:
        self.sessions = sessions
        self.route = route
        self.written = written
        table = cast(Table, CallRecord.__table__)
        self._rows_upsert = _on_conflict(sqlite.insert(table))
        self._batch = ColumnBatch(table)
        self._batch_upsert = _on_conflict(self._batch.insert)

    async def upsert(self, records: Sequence[FinishedCall], source: str = "ami") -> int:
        """Write `records` (one transaction); returns how many rows were written.
        `source`: `ami` from the live builder, `ledger` when the reconciler rebuilt it."""
        latest: dict[tuple[str, str], FinishedCall] = {}
        for record in records:
            latest[(record.node, record.linkedid)] = record
        if not latest:
            return 0
        async with self.sessions() as session, session.begin():
            ids = [linkedid for _, linkedid in latest]
            await lock_calls(session, ids)
            known = await known_facts(session, ids)
            rows = []
            for (_, linkedid), record in latest.items():
                row = to_row(record, self.route(record.dialed), source)
                if record.rating is None and linkedid in known.ratings:
                    row["rating"] = known.ratings[linkedid]
                if linkedid in known.callback_requested and record.disposition in UNANSWERED:
                    row["disposition"] = "callback_requested"
                if (record.node, linkedid) in known.marked:
                    row["confidential"] = True
                rows.append(row)
            connection = await session.connection()
            if connection.dialect.name == "postgresql":
                await connection.execute(self._batch_upsert, self._batch.params(rows))
            else:
                # Core executemany on the table (not the ORM's bulk path): sent as
                # multi-row VALUES pages ("insertmanyvalues"), compiled once
                await connection.execute(self._rows_upsert, rows)
            if self.written is not None:
                await self.written(session, rows)
        return len(rows)


def _on_conflict(statement: Any) -> Any:
    """The insert of new calls as an update of the calls already there: every column
    from the new record, except that a rating stored by an earlier write (or a later
    survey) is never erased, nor a confidential mark (a rebuilt record may not know
    of it)."""
    table = CallRecord.__table__
    updated = {
        column.name: statement.excluded[column.name]
        for column in table.columns
        if column.name not in ("node", "linkedid", "rating", "confidential")
    }
    updated["rating"] = func.coalesce(statement.excluded.rating, table.c.rating)
    updated["confidential"] = or_(statement.excluded.confidential, table.c.confidential)
    return statement.on_conflict_do_update(index_elements=["node", "linkedid"], set_=updated)


class RecordWriter:
    """The batching writer in front of `RecordStore`, with the spool behind it."""

    def __init__(
        self,
        store: RecordStore,
        spool_dir: Path,
        flush_every_s: float = 0.2,
        batch_size: int = 500,
        max_retry_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        backlog_limit: int = 10_000,
        read_tries: int = 5,
    ) -> None:
        self.store = store
        self.spool = Spool(spool_dir)
        self.clock = clock
        self.flush_every_s = flush_every_s
        self.batch_size = batch_size
        self.max_retry_s = max_retry_s
        self.backlog_limit = backlog_limit
        self.read_tries = read_tries
        self.written = 0
        self.failures = 0
        self.database_ok = True
        #: finished calls the spool refused, oldest first, until an append or the
        #: database takes them
        self.backlog: list[FinishedCall] = []
        self.append_failures = 0
        self.read_failures = 0
        #: errors no step expected, caught by `run()`
        self.errors = 0
        self.last_error: str | None = None
        self._read_tries: dict[Path, int] = {}
        self._wake = asyncio.Event()
        self._flushing = asyncio.Lock()  # the loop and an API request may flush at once
        # when the oldest record not yet committed was appended, in the open journal and
        # in sealed files (files left by a previous run count from now)
        self._open_since: float | None = None
        self._sealed_since: float | None = clock() if self.spool.sealed() else None
        self.last_flush_s = 0.0

    def write_lag_s(self) -> float:
        """Age of the oldest finished call not yet in the database (0: none waiting):
        the delay a report reading the database sees, growing through an outage."""
        pending = [t for t in (self._open_since, self._sealed_since) if t is not None]
        return max(0.0, self.clock() - min(pending)) if pending else 0.0

    def health(self) -> tuple[bool, str]:
        """For `/readyz`: not ready while the backlog is full."""
        waiting = len(self.backlog)
        if waiting >= self.backlog_limit:
            return False, (
                f"{waiting} finished calls held in memory (limit {self.backlog_limit}):"
                f" the spool refuses appends ({self.last_error}) and the database is"
                f" {'up' if self.database_ok else 'down'}"
            )
        if waiting:
            return True, f"{waiting} finished calls held in memory: the spool refuses appends"
        return True, f"{self.written} records written; {len(self.spool.sealed())} files spooled"

    def add(self, record: FinishedCall) -> None:
        """Called for every finished call, from the AMI reader: appends, never waits,
        never raises. A call the spool refuses is kept in the backlog."""
        if self._open_since is None:
            self._open_since = self.clock()
        if self.backlog:  # in order: the older calls first
            self.backlog.append(record)
            self._drain_backlog()
        elif not self._append(record):
            self.backlog.append(record)
        if len(self.backlog) == self.backlog_limit:
            log.error(
                "call records: %d calls held in memory, the backlog limit: not ready",
                len(self.backlog),
            )
        if self.backlog or self.spool.pending() >= self.batch_size:
            self._wake.set()

    def _append(self, record: FinishedCall) -> bool:
        try:
            self.spool.append(record)
        except OSError as exc:
            self.append_failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            if not self.backlog:
                log.error(
                    "call records: spool append failed (%s); calls are held in memory",
                    self.last_error,
                )
            return False
        return True

    def _drain_backlog(self) -> None:
        """Append the backlog to the spool, oldest first, until an append fails."""
        taken = 0
        for record in self.backlog:
            if not self._append(record):
                break
            taken += 1
        if taken:
            del self.backlog[:taken]
            if not self.backlog:
                log.info("call records: the spool takes appends again; backlog written")

    async def _write_backlog(self) -> bool:
        """The calls the spool still refuses, straight into the database."""
        if not self.backlog:
            return True
        # taken out while the database is awaited: `add()` may meanwhile append newer
        # calls to the backlog or drain it into the spool
        held, self.backlog = self.backlog, []
        try:
            for chunk in _chunks(held, self.batch_size):
                self.written += await self.store.upsert(chunk)
        except BaseException as exc:
            self.backlog[:0] = held
            if not isinstance(exc, Exception):
                raise
            self._database_failed(exc)
            return False
        log.warning("call records: %d calls the spool refused written to the database", len(held))
        return True

    async def flush(self) -> bool:
        """Seal the journal and write every sealed file; False if the database failed
        (the files stay for the next try)."""
        async with self._flushing:
            return await self._flush()

    async def _flush(self) -> bool:
        started = self.clock()
        try:
            return await self._write_sealed()
        finally:
            self.last_flush_s = self.clock() - started

    async def _write_sealed(self) -> bool:
        self._drain_backlog()
        self.spool.seal()
        if self._open_since is not None and not self.backlog:
            since = self._sealed_since
            self._sealed_since = self._open_since if since is None else min(since, self._open_since)
            self._open_since = None
        for path in self.spool.sealed():
            try:
                records = self.spool.records(path)
            except OSError as exc:
                if self._unreadable(path, exc):
                    continue
                return False
            self._read_tries.pop(path, None)
            try:
                for chunk in _chunks(records, self.batch_size):
                    self.written += await self.store.upsert(chunk)
            except Exception as exc:  # DB down or failing: keep the file, retry later
                self._database_failed(exc)
                return False
            try:
                path.unlink()
            except OSError as exc:  # written: replayed next time, which changes nothing
                log.warning("call records: %s written but not removed (%s)", path, exc)
                return False
        if not await self._write_backlog():
            return False
        if not self.database_ok:
            log.info("call records: database back, spool written")
        self.database_ok = True
        self._sealed_since = None
        return True

    def _database_failed(self, exc: Exception) -> None:
        self.failures += 1
        if self.database_ok:
            log.warning("call records: database write failed, spooling (%s)", exc)
        self.database_ok = False

    def _unreadable(self, path: Path, exc: OSError) -> bool:
        """A sealed file that could not be read: True once it is quarantined (after
        `read_tries` failures), False to try it again on the next flush."""
        self.read_failures += 1
        tries = self._read_tries.get(path, 0) + 1
        self._read_tries[path] = tries
        error = f"{type(exc).__name__}: {exc}"
        if tries < self.read_tries:
            log.warning("call records: %s unreadable (try %d, %s)", path, tries, error)
            return False
        try:
            self.spool.quarantine(path, f"unreadable after {tries} tries: {error}")
        except OSError as move:
            log.error("call records: %s unreadable and cannot be quarantined: %s", path, move)
            return False
        del self._read_tries[path]
        return True

    def close(self) -> None:
        """At shutdown, after the last flush: calls neither the spool nor the database
        took are named (node and Linkedid, no numbers) for the ledger reconciliation,
        which rebuilds a call from Asterisk's own records."""
        if self.backlog:
            log.critical(
                "call records: %d finished calls neither spooled nor written at shutdown"
                " (the reconciliation rebuilds them from the ledger): %s",
                len(self.backlog),
                " ".join(f"{r.node}:{r.linkedid}" for r in self.backlog),
            )
        self.spool.close()

    async def run(self) -> None:
        pause = self.flush_every_s
        try:
            while True:
                try:
                    await asyncio.wait_for(self._wake.wait(), pause)
                except TimeoutError:
                    pass
                self._wake.clear()
                try:
                    ok = await self.flush()
                except Exception as exc:  # the loop must outlive any one flush
                    ok = False
                    self.errors += 1
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    log.exception("call records: flush failed; retrying")
                pause = self.flush_every_s if ok else min(max(pause * 2, 0.5), self.max_retry_s)
        finally:
            self.spool.close()


def _chunks(items: list[FinishedCall], size: int) -> Iterable[list[FinishedCall]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def purge(
    sessions: async_sessionmaker[AsyncSession],
    before_epoch: int,
    *,
    on_batch: Callable[[list[str]], None] | None = None,
    batch: int = 2000,
) -> int:
    """Delete the records of calls started before `before_epoch`, and their intakes;
    returns how many records.

    In batches of `batch` records, each its own short transaction; `on_batch` gets the
    recording file names of a batch once its deletion is committed, so a recording is
    never deleted while its record is still there."""
    total = 0
    while True:
        async with sessions() as session, session.begin():
            rows = (
                await session.execute(
                    select(CallRecord.node, CallRecord.linkedid, CallRecord.recording)
                    .where(CallRecord.start_epoch < before_epoch)
                    .limit(batch)
                )
            ).all()
            if not rows:
                return total
            keys = [(row.node, row.linkedid) for row in rows]
            await session.execute(
                delete(CallRecord).where(tuple_(CallRecord.node, CallRecord.linkedid).in_(keys))
            )
            # the agent's summary is about the caller as much as the record is
            await session.execute(
                delete(CallIntake).where(tuple_(CallIntake.node, CallIntake.linkedid).in_(keys))
            )
        total += len(rows)
        if on_batch is not None:
            on_batch([row.recording for row in rows if row.recording])
