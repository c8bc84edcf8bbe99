"""A call's intake as the API shows it (`Intake`), in `/calls/{id}/intake` and in
`GET /calls/{id}`: its fields and the rule for who reads the summary of a confidential
call are defined once, by `IntakeVersion.shown` (callcenter/records/intake.py), which
the `call.intake` webhook sends too."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.city import Stamp
from callcenter.clock import CityTime
from callcenter.privacy import Viewer
from callcenter.records.intake import KIND_NAMES, IntakeVersion

INTAKE_EXAMPLE: dict[str, Any] = {
    "call": "pbx1:1764141243.2207",
    "version": 1,
    "kind": "complaint",
    "unit": "HOUSING",
    "unit_name": "市住房保障和房产管理局",
    "summary": "来电人反映小区电梯停运三天，物业未处理。",
    "summary_hidden": False,
    "ticket": "ZJ12345-20261126-000187",
    "resolved_on_call": False,
    "author": "agent-1004",
    "role": "agent",
    "seat": "1004",
    "written_at": "2026-11-26T09:20:12+08:00",
    "correction": False,
}


class Intake(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [INTAKE_EXAMPLE]})

    call: str = Field(description="`<node>:<Linkedid>`")
    version: int = Field(description="1 for the first; every change is a new version")
    kind: str = Field(description=" | ".join(KIND_NAMES))
    unit: str = Field(description="the unit the matter concerns (legacy directory code)")
    unit_name: str = Field(description="that unit's name when the version was written")
    summary: str = Field(description="the agent's summary ('' when withheld: see `summary_hidden`)")
    summary_hidden: bool = Field(
        description="the call is confidential and only admin and the agent who took it "
        "read its summary"
    )
    ticket: str | None = Field(description="the province platform's ticket id; null: none")
    resolved_on_call: bool
    author: str = Field(description="the token that wrote this version")
    role: str = Field(description="that token's role")
    seat: str | None = Field(description="an agent author's seat; null for other roles")
    written_at: Stamp
    correction: bool = Field(
        description="written after the call's agent's call and wrap-up, or by someone else"
    )


def shown_intake(
    version: IntakeVersion, confidential: bool, call_seat: str, viewer: Viewer, city: CityTime
) -> Intake:
    """`version` for `viewer`: the summary withheld when it may not read it."""
    return Intake.model_validate(version.shown(confidential, call_seat, viewer, city))
