"""Who changed what, when, from where: every state-changing API request is recorded.

Written by a middleware, not by each handler, so a new endpoint cannot forget it, and
refused attempts (401/403/422) are recorded too: a stream of 403s is exactly what an
operator wants to see. Bodies are not stored (they may carry phone numbers); the method,
path, query, status and the token's identity are. The row is written before the response
leaves, so a client that saw "200" can rely on the entry being there.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy import DateTime, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response

from api.auth import require_roles
from callcenter.models import Base
from callcenter.tokens import Principal, Role

log = logging.getLogger(__name__)

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PAGE_MAX = 500


class AuditEntry(Base):
    __tablename__ = "api_audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    token_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    token_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    role: Mapped[str | None] = mapped_column(String(20), nullable=True)
    seat: Mapped[str | None] = mapped_column(String(64), nullable=True)
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    query: Mapped[str] = mapped_column(String(500))
    status: Mapped[int] = mapped_column(Integer)
    client: Mapped[str] = mapped_column(String(64))  # the TCP peer
    forwarded_for: Mapped[str] = mapped_column(String(200))  # as a proxy claims it


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
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
class AuditPage:
    items: list[AuditRecord]
    #: pass as `?before=` for the next (older) page; None on the last page
    next_cursor: int | None


class AuditLog:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    async def record(self, request: Request, status: int) -> None:
        principal: Principal | None = getattr(request.state, "principal", None)
        entry = AuditEntry(
            at=self._clock(),
            token_id=principal.token_id if principal else None,
            token_name=principal.name if principal else None,
            role=principal.role.value if principal else None,
            seat=principal.seat if principal else None,
            method=request.method,
            path=request.url.path[:500],
            query=request.url.query[:500],
            status=status,
            client=(request.client.host if request.client else "")[:64],
            forwarded_for=request.headers.get("x-forwarded-for", "")[:200],
        )
        async with self._sessions() as session, session.begin():
            session.add(entry)

    async def page(
        self, before: int | None, limit: int, token_id: int | None, path_prefix: str | None
    ) -> AuditPage:
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit + 1)
        if before is not None:
            query = query.where(AuditEntry.id < before)
        if token_id is not None:
            query = query.where(AuditEntry.token_id == token_id)
        if path_prefix:
            query = query.where(AuditEntry.path.startswith(path_prefix, autoescape=True))
        async with self._sessions() as session:
            rows = list(await session.scalars(query))
        more = len(rows) > limit
        rows = rows[:limit]
        items = [
            AuditRecord(
                r.id,
                r.at,
                r.token_id,
                r.token_name,
                r.role,
                r.seat,
                r.method,
                r.path,
                r.query,
                r.status,
                r.client,
                r.forwarded_for,
            )
            for r in rows
        ]
        return AuditPage(items, items[-1].id if more and items else None)


class AuditMiddleware(BaseHTTPMiddleware):
    """Records every POST/PUT/PATCH/DELETE under /api/ once its status is known."""

    def __init__(self, app: Callable[..., Awaitable[None]], audit: AuditLog) -> None:
        super().__init__(app)
        self.audit = audit

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        if request.method in STATE_CHANGING and request.url.path.startswith("/api/"):
            try:
                await self.audit.record(request, response.status_code)
            except Exception:
                # refusing a change because its log line failed would be safer, but the
                # change has already happened by now; make the failure loud instead
                log.exception("audit log: could not record %s %s", request.method, request.url)
                return Response("audit log unavailable; the change was applied", status_code=500)
        return response


router = APIRouter(prefix="/api/v1", tags=["audit"])


@router.get(
    "/audit",
    response_model=AuditPage,
    summary="State-changing requests, newest first (admin)",
)
async def list_audit(
    request: Request,
    _: Annotated[Principal, Depends(require_roles(Role.ADMIN))],
    before: int | None = Query(None, ge=1, description="cursor: entries older than this id"),
    limit: int = Query(100, ge=1, le=PAGE_MAX),
    token_id: int | None = Query(None, ge=1, description="only this token's requests"),
    path: str | None = Query(None, max_length=200, description="only paths starting so"),
) -> AuditPage:
    audit: AuditLog | None = getattr(request.app.state, "audit", None)
    if audit is None:
        raise HTTPException(503, "the audit log is not configured in this instance")
    return await audit.page(before, limit, token_id, path)
