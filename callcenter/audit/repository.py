"""Writing and reading the audit log. Knows nothing of HTTP: the API's middleware
(api/audit_log.py) turns a request into an `AuditEvent`, this stores it with the time
from the injected clock and reads entries back newest first.

Three ways in, by what is at stake:
- an authorised change is `begin`-ed before it is made (a row that says "outcome not
  recorded") and `finish`-ed with its status: if the row cannot be written the change
  is refused, so no change is ever made that the log does not show;
- a refusal is `refused`: counted in memory (callcenter/audit/refusals.py) and written
  once a minute by `run`, so neither a flood nor a database outage reaches the refusal;
- a read of confidential records is `record_read` (method READ), by anyone who shows
  such records.
`run` also deletes rows older than the retention (`CALLCENTER_AUDIT_RETENTION_DAYS`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.audit.events import AuditEvent
from callcenter.audit.models import AuditEntry
from callcenter.audit.refusals import MAX_KEYS, RefusalTally
from callcenter.clock import as_utc
from callcenter.tokens import Principal

__all__ = ["AuditEvent", "AuditLog", "AuditRecord"]

log = logging.getLogger(__name__)

#: column widths of api_audit_log; longer values are cut, never refused
_WIDTHS = {"path": 500, "query": 500, "client": 64, "forwarded_for": 200, "note": 200}
#: a begun change's status until it is finished
PENDING = 0
PENDING_NOTE = "begun; outcome not recorded"
FAILED_NOTE = "failed after it began: the change may have been applied"
#: government records: kept a little over a year unless configured otherwise
DEFAULT_RETENTION_DAYS = 400
FLUSH_EVERY_S = 60.0
PURGE_EVERY_S = 3600.0


@dataclass(frozen=True, kw_only=True)
class AuditRecord(AuditEvent):
    id: int
    at: datetime


class AuditLog:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime],
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        max_refusal_keys: int = MAX_KEYS,
    ) -> None:
        """`retention_days`: rows older are purged by `run` (0: kept forever)."""
        self._sessions = sessions
        self._clock = clock
        self.retention_days = retention_days
        self._refusals = RefusalTally(max_refusal_keys)

    def _entry(self, event: AuditEvent) -> AuditEntry:
        return AuditEntry(
            at=self._clock(),
            token_id=event.token_id,
            token_name=event.token_name,
            role=event.role,
            seat=event.seat,
            method=event.method[:8],
            path=event.path[: _WIDTHS["path"]],
            query=event.query[: _WIDTHS["query"]],
            status=event.status,
            client=event.client[: _WIDTHS["client"]],
            forwarded_for=event.forwarded_for[: _WIDTHS["forwarded_for"]],
            count=event.count,
            note=event.note[: _WIDTHS["note"]],
        )

    async def record(self, event: AuditEvent) -> None:
        """One row, committed before this returns."""
        async with self._sessions() as session, session.begin():
            session.add(self._entry(event))

    async def begin(self, event: AuditEvent) -> int:
        """A row for a change about to be made (status `PENDING`); its id for `finish`.
        Raises when the log cannot be written: the caller must not make the change."""
        entry = self._entry(replace(event, status=PENDING, note=PENDING_NOTE))
        async with self._sessions() as session, session.begin():
            session.add(entry)
            await session.flush()
            return entry.id

    async def finish(self, entry_id: int, status: int, note: str = "") -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(AuditEntry)
                .where(AuditEntry.id == entry_id)
                .values(status=status, note=note[: _WIDTHS["note"]])
            )

    def refused(self, event: AuditEvent) -> None:
        """Counted now, written by the next `flush`; never touches the database."""
        self._refusals.add(event)

    async def record_read(
        self, principal: Principal, what: str, detail: str = "", client: str = ""
    ) -> None:
        """Who read which confidential records, when: e.g. `what` the call's path,
        `detail` why it counts ("confidential call", "caller filter", ...). Raises when
        the log cannot be written: show the records only once it returned."""
        await self.record(
            AuditEvent(
                token_id=principal.token_id,
                token_name=principal.name,
                role=principal.role.value,
                seat=principal.seat,
                method="READ",
                path=what,
                query="",
                status=200,
                client=client,
                forwarded_for="",
                note=detail,
            )
        )

    async def flush(self) -> int:
        """Writes the counted refusals (one row per key); on failure they are counted
        again, to be written next time. Returns the rows written."""
        events = self._refusals.take()
        if not events:
            return 0
        try:
            async with self._sessions() as session, session.begin():
                session.add_all([self._entry(e) for e in events])
        except Exception:
            for event in events:
                self._refusals.add(event, event.count)
            raise
        return len(events)

    async def purge(self) -> int:
        """Deletes rows older than the retention; returns how many (0 when kept forever)."""
        if self.retention_days <= 0:
            return 0
        cutoff = self._clock() - timedelta(days=self.retention_days)
        async with self._sessions() as session, session.begin():
            result = await session.execute(delete(AuditEntry).where(AuditEntry.at < cutoff))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def run(
        self, flush_every_s: float = FLUSH_EVERY_S, purge_every_s: float = PURGE_EVERY_S
    ) -> None:
        """Flushes the refusals every `flush_every_s` and purges every `purge_every_s`
        (and at start), until cancelled; a database away is tried again next time."""
        since_purge = purge_every_s
        while True:
            if since_purge >= purge_every_s:
                since_purge = 0.0
                try:
                    purged = await self.purge()
                    if purged:
                        log.info("audit log: %d rows past retention deleted", purged)
                except Exception:
                    log.warning("audit log: purge failed; next in %.0f s", purge_every_s)
            await asyncio.sleep(flush_every_s)
            since_purge += flush_every_s
            try:
                await self.flush()
            except Exception:
                log.warning("audit log: writing refusals failed; kept for the next flush")

    async def newest(
        self,
        *,
        before_id: int | None,
        limit: int,
        token_id: int | None = None,
        path_prefix: str | None = None,
    ) -> list[AuditRecord]:
        """Up to `limit` entries older than `before_id` (None: from the newest), by id
        descending: the id, not the time, is the order (two requests in one clock tick
        still have a fixed order, and the primary key is the keyset index)."""
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(AuditEntry.id < before_id)
        if token_id is not None:
            query = query.where(AuditEntry.token_id == token_id)
        if path_prefix:
            query = query.where(AuditEntry.path.startswith(path_prefix, autoescape=True))
        async with self._sessions() as session:
            rows = list(await session.scalars(query))
        return [
            AuditRecord(
                id=r.id,
                at=as_utc(r.at),
                token_id=r.token_id,
                token_name=r.token_name,
                role=r.role,
                seat=r.seat,
                method=r.method,
                path=r.path,
                query=r.query,
                status=r.status,
                client=r.client,
                forwarded_for=r.forwarded_for,
                count=r.count,
                note=r.note,
            )
            for r in rows
        ]
