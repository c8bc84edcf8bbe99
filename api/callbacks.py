"""The callback worklist for supervisors: `GET /api/v1/callbacks`, and
`POST /api/v1/callbacks/{id}/assign|cancel`. Integration tokens may read it (a CRM
shows who is owed a call); only supervisors (and admin) change it. The number to call
back is masked for all but admin (callcenter/privacy.py: a callback is dialed by the
service, and whose call it is is not settled until a seat takes it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require_roles
from api.city import City, Stamp, written
from api.pagination import Page, Paging, bad_query
from api.services import callback_worklist, seat_repository
from callcenter.clock import CityTime, as_utc
from callcenter.legacy.queues import directory_name
from callcenter.privacy import NO_NUMBER, Viewer, live_caller
from callcenter.records.callback_tasks import CallbackTaskFact
from callcenter.tokens import Principal, Role
from queues.callbacks import CallbackWorklist
from queues.repository import SeatRepository

router = APIRouter(prefix="/api/v1", tags=["callbacks"])
Reader = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.INTEGRATION))]
Supervisor = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR))]
TaskId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the callback's id")]
Status = Literal["open", "calling", "done", "failed", "cancelled"]
Worklist = Annotated[CallbackWorklist, Depends(callback_worklist)]

_TASK: dict[str, Any] = {
    "id": 318,
    "uniqueid": "1764141243.2207",
    "source": "abandoned",
    "caller": "139****1234",
    "queue": "housing",
    "waited_s": 142.5,
    "priority": 0,
    "status": "open",
    "attempts": 0,
    "max_attempts": 3,
    "due_at": "2026-11-26T17:16:05+08:00",
    "assigned_seat": None,
    "outcome": "",
    "created_at": "2026-11-26T17:14:03+08:00",
    "updated_at": "2026-11-26T17:14:03+08:00",
}


class CallbackOut(BaseModel):
    id: int
    uniqueid: str = Field(description="the Asterisk Uniqueid of the call that asked for it")
    source: str = Field(
        description="abandoned (hung up in queue) | virtual_hold (kept their place)"
    )
    caller: str = Field(description="the number to call back: masked but for admin")
    queue: str = Field(description="the queue the caller waited in, by its directory name")
    waited_s: float = Field(description="how long the caller had waited before asking")
    priority: int
    status: Status
    attempts: int
    max_attempts: int
    due_at: Stamp = Field(description="its place in line; ISO 8601, city time with offset")
    assigned_seat: str | None = Field(description="only this seat will call; null: any seat")
    outcome: str
    created_at: Stamp
    updated_at: Stamp

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_TASK]})


class AssignBody(BaseModel):
    seat: str | None = Field(max_length=64, description="the seat that will call (null: any seat)")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"seat": "1004"}]})


class CancelBody(BaseModel):
    reason: str = Field(min_length=1, max_length=200)

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "市民已通过网上渠道办结"}]}
    )


class Cancelled(BaseModel):
    cancelled: bool

    model_config = ConfigDict(json_schema_extra={"examples": [{"cancelled": True}]})


def _out(task: CallbackTaskFact, city: CityTime, viewer: Viewer = NO_NUMBER) -> CallbackOut:
    out = written(CallbackOut, task, city)
    caller = live_caller(task.caller, False, "", viewer.without_seat())
    return out.model_copy(update={"queue": directory_name(task.queue), "caller": caller})


def _key(task: CallbackTaskFact) -> tuple[str, int]:
    return as_utc(task.due_at).isoformat(), task.id


@router.get(
    "/callbacks",
    response_model=Page[CallbackOut],
    summary="The callback worklist, in line order (due_at, then id)",
)
async def list_callbacks(
    principal: Reader,
    page: Paging,
    worklist: Worklist,
    city: City,
    status: Annotated[Status | None, Query(description="only tasks in this state")] = None,
) -> Page[CallbackOut]:
    after = page.after(str, int)
    position: tuple[datetime, int] | None = None
    if after is not None:
        try:
            due = datetime.fromisoformat(str(after[0]))
        except ValueError:
            raise bad_query("cursor", "not a cursor of this list") from None
        if due.tzinfo is None:
            raise bad_query("cursor", "not a cursor of this list")
        position = (due.astimezone(UTC), int(after[1]))
    tasks = await worklist.tasks(status, page.fetch, position)
    viewer = Viewer.of(principal)
    return page.of(tasks, key=_key, item=lambda task: _out(task, city, viewer))


@router.post(
    "/callbacks/{task_id}/assign",
    response_model=CallbackOut,
    summary="Pick the seat",
    responses={409: {"description": "the callback is not open or failed"}},
)
async def assign(
    task_id: TaskId,
    body: AssignBody,
    principal: Supervisor,
    worklist: Worklist,
    seats: Annotated[SeatRepository, Depends(seat_repository)],
    city: City,
) -> CallbackOut:
    if body.seat is not None and await seats.seat(body.seat) is None:
        raise HTTPException(404, f"no seat {body.seat!r}")
    try:
        task = await worklist.assign(task_id, body.seat)
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from exc
    if task is None:
        raise HTTPException(404, f"no callback {task_id}")
    return _out(task, city, Viewer.of(principal))


@router.post(
    "/callbacks/{task_id}/cancel",
    response_model=Cancelled,
    summary="Nobody will call this one",
    responses={409: {"description": "the callback is not open (or does not exist)"}},
)
async def cancel(
    task_id: TaskId, body: CancelBody, principal: Supervisor, worklist: Worklist
) -> Cancelled:
    if not await worklist.cancel(task_id, f"cancelled by {principal.name}: {body.reason}"):
        raise HTTPException(409, f"callback {task_id} is not open (or does not exist)")
    return Cancelled(cancelled=True)
