"""A call's intake (callcenter/records/intake.py): `POST /api/v1/calls/{id}/intake` (a
whole version), `PATCH` (some fields: the province platform links its ticket),
`GET` (the current version and every one before), and `GET /api/v1/intake-kinds`.

Who writes when is the records domain's rule (`correction_of`): the call's agent during
the call and its wrap-up, later as a correction; supervisors and admin as corrections;
integration tokens the ticket only. An agent asking about another seat's call gets the
404 of a call that does not exist (api/calls.py). A call is found in progress (the live
model) or recorded, a call that just ended in the record writer's spool included.
Reading follows `GET /calls/{id}`: the summary of a confidential call only for admin and
the agent who took it, and such a read is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from api.audit_log import AuditIfAny, audited_read
from api.auth import require_roles
from api.calls import InProgress, Records, _call_key, _in_progress, _none_of_theirs, _written
from api.city import City
from api.intake_view import INTAKE_EXAMPLE, Intake, shown_intake
from api.services import call_intake, record_writer
from callcenter.privacy import Viewer
from callcenter.records.intake import (
    KINDS,
    SUMMARY_MAX,
    TICKET_MAX,
    Author,
    CallAtSeat,
    IntakeError,
    IntakeFields,
    IntakeRefused,
    IntakeUnavailable,
    IntakeVersion,
    NoIntake,
    NotTheirCall,
    SqlIntake,
    confidential_by_default,
)
from callcenter.records.store import RecordWriter
from callcenter.tokens import Principal, Role

router = APIRouter(prefix="/api/v1", tags=["intake"])
Writers = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.AGENT))]
Patchers = Annotated[
    Principal, Depends(require_roles(Role.SUPERVISOR, Role.AGENT, Role.INTEGRATION))
]
Readers = Annotated[
    Principal, Depends(require_roles(Role.SUPERVISOR, Role.AGENT, Role.INTEGRATION))
]
Intakes = Annotated[SqlIntake, Depends(call_intake)]
Writer = Annotated[RecordWriter, Depends(record_writer)]

_WRITE_EXAMPLE: dict[str, Any] = {
    "kind": "complaint",
    "unit": "HOUSING",
    "summary": "来电人反映小区电梯停运三天，物业未处理。",
    "ticket": None,
    "resolved_on_call": False,
}


class IntakeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_WRITE_EXAMPLE]})

    kind: str = Field(
        max_length=32,
        description="consultation | help | opinion | suggestion | complaint | "
        "report (a report makes the call confidential)",
    )
    unit: str = Field(
        max_length=64, description="the unit the matter concerns: a legacy directory unit code"
    )
    summary: str = Field(
        default="",
        description=f"at most {SUMMARY_MAX} characters; lines and tabs, no other control "
        "characters",
    )
    ticket: str | None = Field(
        default=None, description=f"the province platform's ticket id (at most {TICKET_MAX})"
    )
    resolved_on_call: StrictBool = False


class IntakeChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"ticket": "ZJ12345-20261126-000187"}]}
    )

    kind: str | None = Field(default=None, max_length=32)
    unit: str | None = Field(default=None, max_length=64)
    summary: str | None = None
    ticket: str | None = Field(default=None, description="null removes the link")
    resolved_on_call: StrictBool | None = None


class IntakeHistory(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"current": INTAKE_EXAMPLE, "versions": [INTAKE_EXAMPLE]}]}
    )

    current: Intake | None = Field(description="the latest version; null: not classified yet")
    versions: list[Intake] = Field(description="every version, oldest first")


class IntakeKindOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "report",
                    "zh": "举报",
                    "en": "report (whistle-blowing)",
                    "confidential_by_default": True,
                }
            ]
        }
    )

    kind: str
    zh: str
    en: str
    confidential_by_default: bool = Field(description="the call is masked once so classified")


@dataclass(frozen=True, slots=True)
class FoundCall:
    """A call as the intake rules see it, and whether it is confidential now."""

    at_seat: CallAtSeat
    confidential: bool


async def _find(
    live: InProgress,
    records: Records,
    writer: RecordWriter,
    principal: Principal,
    call_id: str,
) -> tuple[str, str, FoundCall]:
    node, linkedid = _call_key(call_id)
    missing = f"no call {call_id!r} (in progress or recorded)"
    call = _in_progress(live, node, linkedid)
    if call is not None:
        _none_of_theirs(principal, call.seat, missing)
        at_seat = CallAtSeat(call.seat, True, confidential=call.confidential)
        return node, linkedid, FoundCall(at_seat, call.confidential)
    record = await _written(records, writer, node, linkedid)
    if record is None:
        raise HTTPException(404, missing)
    _none_of_theirs(principal, record.seat, missing)
    ended_at = record.ended_at.timestamp()
    at_seat = CallAtSeat(record.seat, False, ended_at, record.wrapup_s, record.confidential)
    return node, linkedid, FoundCall(at_seat, record.confidential)


def _author(principal: Principal) -> Author:
    return Author(principal.name, principal.role, principal.seat)


async def _stored(write: Any, call_id: str) -> IntakeVersion:
    try:
        stored: IntakeVersion = await write
    except IntakeError as exc:
        raise HTTPException(422, str(exc)) from None
    except NotTheirCall:
        raise HTTPException(404, f"no call {call_id!r} (in progress or recorded)") from None
    except IntakeRefused as exc:
        raise HTTPException(403, str(exc)) from None
    except NoIntake:
        raise HTTPException(
            409, f"call {call_id!r} has no intake yet: its agent writes one first (POST)"
        ) from None
    except IntakeUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
    return stored


def _shown(version: IntakeVersion, found: FoundCall, principal: Principal, city: City) -> Intake:
    confidential = found.confidential or confidential_by_default(version.kind)
    return shown_intake(version, confidential, found.at_seat.seat, Viewer.of(principal), city)


@router.post(
    "/calls/{call_id}/intake",
    response_model=Intake,
    status_code=201,
    summary="Classify a call: kind, unit, summary, ticket (a new version)",
    description="The call's agent during the call and its wrap-up; afterwards that agent "
    "or a supervisor/admin, as a correction (`correction: true`). A `report` makes the "
    "call confidential (one-way).",
)
async def write_intake(
    principal: Writers,
    call_id: str,
    body: Annotated[IntakeIn, Body()],
    live: InProgress,
    records: Records,
    writer: Writer,
    intakes: Intakes,
    city: City,
) -> Intake:
    node, linkedid, found = await _find(live, records, writer, principal, call_id)
    given = IntakeFields(body.kind, body.unit, body.summary, body.ticket, body.resolved_on_call)
    write = intakes.write(node, linkedid, given, _author(principal), found.at_seat)
    return _shown(await _stored(write, call_id), found, principal, city)


@router.patch(
    "/calls/{call_id}/intake",
    response_model=Intake,
    summary="Change some fields of a call's intake (a new version)",
    description="The fields given change, the others stay as the current version has "
    "them. An integration token (the province platform) may set `ticket` only. 409 "
    "when the call has no intake yet.",
)
async def change_intake(
    principal: Patchers,
    call_id: str,
    body: Annotated[IntakeChange, Body()],
    live: InProgress,
    records: Records,
    writer: Writer,
    intakes: Intakes,
    city: City,
) -> Intake:
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    if not changes:
        raise HTTPException(422, "the request body: no field to change")
    for name, value in changes.items():
        if value is None and name != "ticket":
            raise HTTPException(422, f"{name}: may not be null")
    node, linkedid, found = await _find(live, records, writer, principal, call_id)
    write = intakes.amend(node, linkedid, changes, _author(principal), found.at_seat)
    return _shown(await _stored(write, call_id), found, principal, city)


@router.get(
    "/calls/{call_id}/intake",
    response_model=IntakeHistory,
    summary="A call's intake: the current version and every version",
)
async def read_intake(
    principal: Readers,
    call_id: str,
    live: InProgress,
    records: Records,
    writer: Writer,
    intakes: Intakes,
    city: City,
    request: Request,
    audit: AuditIfAny,
) -> IntakeHistory:
    node, linkedid, found = await _find(live, records, writer, principal, call_id)
    versions = await intakes.versions(node, linkedid)
    if found.confidential and versions:
        await audited_read(audit, request, principal, request.url.path, "confidential intake")
    shown = [_shown(v, found, principal, city) for v in versions]
    return IntakeHistory(current=shown[-1] if shown else None, versions=shown)


@router.get(
    "/intake-kinds",
    response_model=list[IntakeKindOut],
    summary="The six intake kinds (咨询、求助、意见、建议、投诉、举报)",
)
async def intake_kinds(_who: Readers) -> list[IntakeKindOut]:
    return [
        IntakeKindOut(
            kind=k.kind, zh=k.zh, en=k.en, confidential_by_default=k.confidential_by_default
        )
        for k in KINDS
    ]
