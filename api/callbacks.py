"""The callback worklist for supervisors: `GET /api/v1/callbacks`, and
`POST /api/v1/callbacks/{id}/assign|cancel`. Integration tokens may read it (a CRM
shows who is owed a call); only supervisors (and admin) change it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require_roles
from callcenter.tokens import Principal, Role
from queues.callbacks import CallbackWorklist
from queues.models import CallbackTask
from queues.wiring import SeatsSystem

router = APIRouter(prefix="/api/v1", tags=["callbacks"])
Reader = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.INTEGRATION))]
Supervisor = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR))]


class CallbackOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    uniqueid: str
    source: str
    caller: str
    queue: str
    waited_s: float
    priority: int
    status: str
    attempts: int
    max_attempts: int
    due_at: datetime
    assigned_seat: str | None
    outcome: str
    created_at: datetime
    updated_at: datetime


class AssignBody(BaseModel):
    seat: str | None = Field(description="the seat that will call (null: any seat)")


class CancelBody(BaseModel):
    reason: str = Field(min_length=1, max_length=200)


def _worklist(request: Request) -> tuple[CallbackWorklist, SeatsSystem]:
    seats: SeatsSystem | None = getattr(request.app.state, "seats", None)
    if seats is None:
        raise HTTPException(503, "seat management is not configured in this instance")
    return seats.callbacks, seats


def _out(task: CallbackTask) -> CallbackOut:
    return CallbackOut.model_validate(task)


@router.get("/callbacks", response_model=list[CallbackOut], summary="The callback worklist")
async def list_callbacks(
    request: Request,
    _principal: Reader,
    status: str | None = Query(None, description="open, calling, done, failed, cancelled"),
    limit: int = Query(500, ge=1, le=5000),
) -> list[CallbackOut]:
    worklist, _ = _worklist(request)
    return [_out(t) for t in await worklist.tasks(status, limit)]


@router.post("/callbacks/{task_id}/assign", response_model=CallbackOut, summary="Pick the seat")
async def assign(
    request: Request, task_id: int, body: AssignBody, _principal: Supervisor
) -> CallbackOut:
    worklist, seats = _worklist(request)
    if body.seat is not None and await seats.repo.seat(body.seat) is None:
        raise HTTPException(404, f"no seat {body.seat!r}")
    try:
        task = await worklist.assign(task_id, body.seat)
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from exc
    if task is None:
        raise HTTPException(404, f"no callback {task_id}")
    return _out(task)


@router.post("/callbacks/{task_id}/cancel", summary="Nobody will call this one")
async def cancel(
    request: Request, task_id: int, body: CancelBody, principal: Supervisor
) -> dict[str, bool]:
    worklist, _ = _worklist(request)
    if not await worklist.cancel(task_id, f"cancelled by {principal.name}: {body.reason}"):
        raise HTTPException(409, f"callback {task_id} is not open (or does not exist)")
    return {"cancelled": True}
