"""Who changed what, when, from where: every state-changing API request is recorded.

Written by a middleware, not by each handler, so a new endpoint cannot forget it, and
refused attempts (401/403/422) are recorded too: a stream of 403s is exactly what an
operator wants to see. Bodies are not stored (they may carry phone numbers); the method,
path, query, status and the token's identity are. The row is written before the response
leaves, so a client that saw "200" can rely on the entry being there.

The table and its queries live in callcenter/audit/; this module is the HTTP side: the
middleware and `GET /api/v1/audit` (admin), paged like every list (api/pagination.py).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import require_roles
from api.city import City, Stamp, written
from api.pagination import Page, Paging
from api.services import audit_log
from callcenter.audit.repository import AuditEvent, AuditLog
from callcenter.tokens import Principal, Role

__all__ = ["AuditLog", "AuditMiddleware", "router"]  # serve builds AuditLog from here

log = logging.getLogger(__name__)

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def event_of(request: Request, status: int) -> AuditEvent:
    principal: Principal | None = getattr(request.state, "principal", None)
    return AuditEvent(
        token_id=principal.token_id if principal else None,
        token_name=principal.name if principal else None,
        role=principal.role.value if principal else None,
        seat=principal.seat if principal else None,
        method=request.method,
        path=request.url.path,
        query=request.url.query,
        status=status,
        client=request.client.host if request.client else "",
        forwarded_for=request.headers.get("x-forwarded-for", ""),
    )


class AuditMiddleware:
    """Records every POST/PUT/PATCH/DELETE under /api/ once its status is known.

    Plain ASGI rather than Starlette's BaseHTTPMiddleware: every other request (the
    wallboards' and desktops' polling) passes straight through, without the extra task
    and body streaming BaseHTTPMiddleware puts around each response. A state-changing
    response is held until its audit line is written: if that fails, the client gets a
    500 saying so instead of a success nobody can trace."""

    def __init__(self, app: ASGIApp, audit: AuditLog) -> None:
        self.app = app
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in STATE_CHANGING
            or not scope["path"].startswith("/api/")
        ):
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        status = next(m["status"] for m in held if m["type"] == "http.response.start")
        request = Request(scope)
        try:
            await self.audit.record(event_of(request, status))
        except Exception:
            # refusing a change because its log line failed would be safer, but the
            # change has already happened by now; make the failure loud instead
            log.exception("audit log: could not record %s %s", request.method, request.url)
            failed = Response("audit log unavailable; the change was applied", status_code=500)
            await failed(scope, receive, send)
            return
        for message in held:
            await send(message)


class AuditEntryOut(BaseModel):
    id: int
    at: Stamp
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

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 4211,
                    "at": "2026-11-26T17:14:03+08:00",
                    "token_id": 7,
                    "token_name": "坐席 1001 王芳",
                    "role": "agent",
                    "seat": "1001",
                    "method": "POST",
                    "path": "/api/v1/seats/1001/pause",
                    "query": "",
                    "status": 200,
                    "client": "10.20.3.41",
                    "forwarded_for": "",
                }
            ]
        },
    )


router = APIRouter(prefix="/api/v1", tags=["audit"])


@router.get(
    "/audit",
    response_model=Page[AuditEntryOut],
    summary="State-changing requests, newest first (admin)",
)
async def list_audit(
    _: Annotated[Principal, Depends(require_roles(Role.ADMIN))],
    page: Paging,
    audit: Annotated[AuditLog, Depends(audit_log)],
    city: City,
    token_id: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="only this token's requests")
    ] = None,
    path: Annotated[
        str | None, Query(max_length=200, description="only paths starting so, e.g. /api/v1/seats")
    ] = None,
) -> Page[AuditEntryOut]:
    after = page.after(int)
    rows = await audit.newest(
        before_id=int(after[0]) if after else None,
        limit=page.fetch,
        token_id=token_id,
        path_prefix=path,
    )
    return page.of(rows, key=lambda r: (r.id,), item=lambda r: written(AuditEntryOut, r, city))
