"""Writing and reading the audit log. Knows nothing of HTTP: the API's middleware
(api/audit_log.py) turns a request into an `AuditEvent`, this stores it with the time
from the injected clock and reads entries back newest first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.audit.models import AuditEntry
from callcenter.clock import as_utc

#: column widths of api_audit_log; longer values are cut, never refused
_WIDTHS = {"path": 500, "query": 500, "client": 64, "forwarded_for": 200}


@dataclass(frozen=True)
class AuditEvent:
    """One state-changing request, as the middleware saw it."""

    token_id: int | None
    token_name: str | None
    role: str | None
    seat: str | None
    method: str
    path: str
    query: str
    status: int
    client: str
    forwarded_for: str


@dataclass(frozen=True)
class AuditRecord(AuditEvent):
    id: int
    at: datetime


class AuditLog:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    async def record(self, event: AuditEvent) -> None:
        entry = AuditEntry(
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
        )
        async with self._sessions() as session, session.begin():
            session.add(entry)

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
            )
            for r in rows
        ]
