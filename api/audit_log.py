"""Who changed what, when, from where: every state-changing API request is recorded,
and every read of confidential records.

Written by a middleware, not by each handler, so a new endpoint cannot forget it, and
refused attempts (401/403/422) are recorded too: a stream of 403s is exactly what an
operator wants to see. Bodies are not stored (they may carry phone numbers); the method,
path, query, status and the token's identity are.

What is at stake decides how (callcenter/audit/repository.py):
- an authorised change opens its row before it is made: `require_roles` (api/auth.py)
  calls the gate this middleware leaves in the request's state, and a log that cannot
  be written refuses the change with 503 ("nothing was changed"). The row is finished
  with the status, also when the handler raised (500: "the change may have been
  applied"). A finish that fails leaves the row saying "outcome not recorded" and the
  response as it was: the change is in the log either way.
- a refusal without an authorised token (401, a role's 403, anything without a
  principal) is counted in memory and written once a minute, one row per client: a
  flood makes a bounded number of rows, and during a database outage a 401 stays a 401.
- a read of confidential records: `audited_read` (refused with 503 if unrecorded).
`client` is the peer uvicorn reports: the socket's, or the proxy's X-Forwarded-For only
from the proxies in `CALLCENTER_TRUSTED_PROXIES` (callcenter/process/service.py);
`forwarded_for` keeps the header as claimed, for the record.

The table and its queries live in callcenter/audit/; this module is the HTTP side: the
middleware and `GET /api/v1/audit` (admin), paged like every list (api/pagination.py).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import AUDIT_GATE, require_roles
from api.city import City, Stamp, written
from api.pagination import Page, Paging
from api.services import api_services, audit_log
from callcenter.audit.repository import FAILED_NOTE, AuditEvent, AuditLog
from callcenter.tokens import Principal, Role

__all__ = ["AuditLog", "AuditMiddleware", "audited_read", "router"]

log = logging.getLogger(__name__)

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def event_of(request: Request, status: int, note: str = "") -> AuditEvent:
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
        client=client_of(request),
        forwarded_for=request.headers.get("x-forwarded-for", ""),
        note=note,
    )


def client_of(connection: HTTPConnection) -> str:
    return connection.client.host if connection.client else ""


class _Change:
    """One state-changing request's row: opened by the gate, finished by the middleware."""

    def __init__(self, audit: AuditLog, request: Request) -> None:
        self.audit = audit
        self.request = request
        self.entry_id: int | None = None
        self.unavailable = False  # the gate found the log unwritable and refused

    async def open(self) -> None:
        if self.entry_id is not None:
            return
        try:
            self.entry_id = await self.audit.begin(event_of(self.request, 0))
        except Exception as exc:
            self.unavailable = True
            log.exception(
                "audit log: cannot record %s %s; refused",
                self.request.method,
                self.request.url.path,
            )
            raise HTTPException(503, "audit log unavailable; nothing was changed") from exc

    async def close(self, status: int, failed: bool) -> None:
        note = FAILED_NOTE if failed or status >= 500 else ""
        principal = getattr(self.request.state, "principal", None)
        try:
            if self.entry_id is not None:
                await self.audit.finish(self.entry_id, status, note)
            elif self.unavailable:
                return  # refused for that very reason, and logged
            elif principal is None or status in (401, 403):
                self.audit.refused(event_of(self.request, status))
            else:
                # authenticated, but the role check (the gate) was not reached: nothing changed
                await self.audit.record(event_of(self.request, status, note))
        except Exception:
            log.exception(
                "audit log: could not record the outcome (%d) of %s %s",
                status,
                self.request.method,
                self.request.url.path,
            )


class AuditMiddleware:
    """Audits every POST/PUT/PATCH/DELETE under /api/ (module docstring: how).

    Plain ASGI rather than Starlette's BaseHTTPMiddleware: every other request (the
    wallboards' and desktops' polling) passes straight through, without the extra task
    and body streaming BaseHTTPMiddleware puts around each response. A state-changing
    response is held until its outcome is recorded, so a client that saw "200" can
    rely on the entry saying so."""

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

        change = _Change(self.audit, Request(scope))
        scope.setdefault("state", {})[AUDIT_GATE] = change.open
        try:
            await self.app(scope, receive, hold)
        except Exception:
            await change.close(500, failed=True)
            raise
        status = next(m["status"] for m in held if m["type"] == "http.response.start")
        await change.close(status, failed=False)
        for message in held:
            await send(message)


async def audit_log_if_any(conn: HTTPConnection) -> AuditLog | None:
    return api_services(conn).audit


AuditIfAny = Annotated[AuditLog | None, Depends(audit_log_if_any)]


async def audited_read(
    audit: AuditLog | None, conn: HTTPConnection, principal: Principal, what: str, detail: str
) -> None:
    """Records a read of confidential records before they are shown; 503 if it cannot
    be (no log configured in this instance: nothing to record, shown as before)."""
    if audit is None:
        return
    try:
        await audit.record_read(principal, what, detail, client_of(conn))
    except Exception as exc:
        log.exception("audit log: cannot record a confidential read of %s; refused", what)
        raise HTTPException(503, "audit log unavailable; confidential records not shown") from exc


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
    count: int
    note: str

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
                    "count": 1,
                    "note": "",
                }
            ]
        },
    )


router = APIRouter(prefix="/api/v1", tags=["audit"])


@router.get(
    "/audit",
    response_model=Page[AuditEntryOut],
    summary="State-changing requests and confidential reads, newest first (admin)",
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
