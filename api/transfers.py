"""Transfers and three-party calls: `GET /transfer-targets`, and on a call at a seat
`POST /calls/{id}/transfer` (blind | consult | conference), `/transfer/complete`,
`/transfer/cancel`, `/conference/leave`, `GET /calls/{id}/transfers`.

Who may act: the call's agent (the seat that answered it; another seat's call answers
404 as if it did not exist, api/calls.py), supervisors and admins. How the service
drives Asterisk, and why those actions: callcenter/transfers/service.py. Each leg and
its outcome is the call record's (`transfers`, also in `GET /calls/{id}`), so what
`GET .../transfers` says during the call is what the record will keep.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import HTTPConnection

from api.auth import require_roles
from api.calls import _call_key, _none_of_theirs
from api.city import City, OptionalStamp, Stamp, written
from api.services import api_services, call_records
from callcenter.records import query as q
from callcenter.records.store import RecordStore
from callcenter.records.transfer_legs import LEG_KINDS
from callcenter.tokens import Principal, Role
from callcenter.transfers.service import Mode, Running, TransferError, TransferService

router = APIRouter(prefix="/api/v1", tags=["transfers"])
actors = require_roles(Role.SUPERVISOR, Role.AGENT)

State = Literal["dialing", "talking", "completed", "returned", "failed", "conference", "left"]

_TRANSFER: dict[str, Any] = {
    "id": "pbx1:1764141243.2207/1",
    "call": "pbx1:1764141243.2207",
    "mode": "consult",
    "to": "110",
    "state": "dialing",
    "started_at": "2026-11-26T09:16:03+08:00",
}


class TargetOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"number": "110", "name": "police", "kind": "emergency"}]}
    )

    number: str
    name: str
    kind: Literal["emergency", "unit"]


class TransferIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"to": "110", "mode": "consult"}]}
    )

    to: str = Field(min_length=1, max_length=32, description="a number of /transfer-targets")
    mode: Mode = Field(description="blind | consult | conference")


class TransferOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_TRANSFER]})

    id: str
    call: str
    mode: Mode
    to: str
    state: State
    started_at: Stamp
    answered_at: OptionalStamp = None
    ended_at: OptionalStamp = None
    left_by: str = Field("", description="conference: who left first (agent, caller, target)")


async def transfer_service(conn: HTTPConnection) -> TransferService:
    service = api_services(conn).transfers
    if service is None:
        raise HTTPException(503, "transfers are not configured in this instance")
    return service


Service = Annotated[TransferService, Depends(transfer_service)]
Actor = Annotated[Principal, Depends(actors)]


def _epoch(when: datetime) -> float:
    """A record's time (naive: UTC) as epoch seconds."""
    return (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).timestamp()


def _running_out(call_id: str, run: Running, state: State, city: City) -> TransferOut:
    data = {
        "id": f"{call_id}/{run.index}",
        "call": call_id,
        "mode": run.mode,
        "to": run.to,
        "state": state,
        "started_at": run.started_at,
    }
    return written(TransferOut, data, city)


def _legs_out(call_id: str, started: float, legs: list[dict[str, Any]], city: City) -> list[Any]:
    out = []
    for n, leg in enumerate((leg for leg in legs if leg["kind"] in LEG_KINDS), start=1):

        def at(key: str, leg: dict[str, Any] = leg) -> float | None:
            return started + leg[key] if leg.get(key) is not None else None

        data = {
            "id": f"{call_id}/{n}",
            "call": call_id,
            "mode": leg["kind"],
            "to": leg["to"],
            "state": leg["state"],
            "started_at": at("started"),
            "answered_at": at("answered"),
            "ended_at": at("ended"),
            "left_by": leg["left_by"],
        }
        out.append(written(TransferOut, data, city))
    return out


def _their_call(service: TransferService, principal: Principal, call_id: str) -> tuple[str, str]:
    """The call in progress this principal may act on (404 otherwise)."""
    node, linkedid = _call_key(call_id)
    missing = f"no call {call_id!r} in progress"
    call = service.call(node, linkedid)
    if call is None:
        raise HTTPException(404, missing)
    _none_of_theirs(principal, call.seat, missing)
    return node, linkedid


async def _acted(
    service: TransferService,
    principal: Principal,
    call_id: str,
    step: Callable[[str, str], Awaitable[Running]],
    state: State,
    city: City,
) -> TransferOut:
    """`step` on the principal's call in progress, its refusal as the service's status
    (409, 422, 502, 503) with its message: the one way every transfer action answers."""
    node, linkedid = _their_call(service, principal, call_id)
    try:
        run = await step(node, linkedid)
    except TransferError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    return _running_out(call_id, run, state, city)


@router.get(
    "/transfer-targets",
    response_model=list[TargetOut],
    summary="Where a call may be transferred or conferenced to",
    description="The dialplan's whitelist: the emergency services (110, 119, 120, 122) "
    "and the units' transfer numbers of the legacy directory (and the IVR flow's).",
)
async def transfer_targets(principal: Actor, service: Service) -> list[TargetOut]:
    targets = await service.targets()
    ordered = sorted(targets.values(), key=lambda t: (t.kind != "emergency", t.number))
    return [TargetOut(number=t.number, name=t.name, kind=t.kind) for t in ordered]


@router.post(
    "/calls/{call_id}/transfer",
    response_model=TransferOut,
    status_code=202,
    summary="Transfer the call: blind, consult (talk to the target first) or conference",
    description="409 when the call is not talking to a seat or a transfer is already "
    "running, 422 for a target off the whitelist, 502 when Asterisk refuses (its "
    "message), 503 when it does not answer. `consult` continues with "
    "`/transfer/complete` or `/transfer/cancel`, `conference` with `/conference/leave`.",
)
async def start_transfer(
    principal: Actor,
    call_id: str,
    body: Annotated[TransferIn, Body()],
    service: Service,
    city: City,
) -> TransferOut:
    return await _acted(
        service,
        principal,
        call_id,
        lambda node, linkedid: service.start(node, linkedid, body.to, body.mode),
        "dialing",
        city,
    )


@router.post(
    "/calls/{call_id}/transfer/complete",
    response_model=TransferOut,
    summary="Consultation: hand the caller to the target (the agent leaves)",
)
async def complete_transfer(
    principal: Actor, call_id: str, service: Service, city: City
) -> TransferOut:
    return await _acted(service, principal, call_id, service.complete, "completed", city)


@router.post(
    "/calls/{call_id}/transfer/cancel",
    response_model=TransferOut,
    summary="Consultation: drop the target, back to the caller",
)
async def cancel_transfer(
    principal: Actor, call_id: str, service: Service, city: City
) -> TransferOut:
    return await _acted(service, principal, call_id, service.cancel, "returned", city)


@router.post(
    "/calls/{call_id}/conference/leave",
    response_model=TransferOut,
    summary="Three-party call: the agent leaves, caller and target stay",
)
async def leave_conference(
    principal: Actor, call_id: str, service: Service, city: City
) -> TransferOut:
    return await _acted(service, principal, call_id, service.leave, "left", city)


@router.get(
    "/calls/{call_id}/transfers",
    response_model=list[TransferOut],
    summary="The call's transfer legs and their outcomes (in progress or recorded)",
)
async def list_transfers(
    principal: Actor,
    call_id: str,
    service: Service,
    records: Annotated[RecordStore, Depends(call_records)],
    city: City,
) -> list[Any]:
    node, linkedid = _call_key(call_id)
    missing = f"no call {call_id!r} (in progress or recorded)"
    call = service.call(node, linkedid)
    live = service.legs_of(node, linkedid) if call is not None else None
    if call is not None and live is not None:
        _none_of_theirs(principal, call.seat, missing)
        return _legs_out(call_id, live.started_at, live.legs, city)
    async with records.sessions() as session:
        record = await q.get(session, node, linkedid)
    if record is None:
        raise HTTPException(404, missing)
    _none_of_theirs(principal, record.seat, missing)
    return _legs_out(call_id, _epoch(record.started_at), record.transfers, city)
