"""The agent's desk: `WS /api/v1/desk` (its seat and screen pops, api/desk_ws.py) and
`GET /api/v1/desk/pop`, the seat's current call as its pop, for a desk that reconnects.

Agent tokens, each for its own seat only; admin names the seat (`?seat=`) to see a
desk as its agent does (support). The page is `/agent` (api/static/agent.html).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, WebSocket
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from api.auth import require_roles
from api.desk_ws import DeskHub, serve_desk
from api.services import desk_hub, desk_hub_if_any, token_store_if_any
from callcenter.tokens import Principal, Role, TokenStore

router = APIRouter(prefix="/api/v1", tags=["desk"])

Agent = Annotated[Principal, Depends(require_roles(Role.AGENT))]

_UNIT: JsonDict = {
    "code": "HOUSING",
    "name": "市住房和城乡建设局",
    "district": "市本级",
    "mode": "merge",
}
_PAST: JsonDict = {
    "call": "pbx1:1764141243.2207",
    "started_at": "2026-11-26T15:14:03+08:00",
    "kind": "complaint",
    "unit": "HOUSING",
    "ticket": "SD-2026-112600417",
    "disposition": "answered",
}


class PopUnit(BaseModel):
    """The unit the dialed number belongs to (the legacy directory)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_UNIT]})

    code: str
    name: str
    district: str
    mode: str = Field(description="merge | dock | retain ('' when only the code is known)")


class PopPastCall(BaseModel):
    """One of the caller's earlier calls."""

    model_config = ConfigDict(json_schema_extra={"examples": [_PAST]})

    call: str
    started_at: str
    kind: str | None = Field(description="the intake's kind; null: no intake written")
    unit: str | None
    ticket: str | None
    disposition: str


class ScreenPop(BaseModel):
    """A call as the agent's desk shows it (api/desk_pop.py)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "call": "pbx1:1764231201.311",
                    "caller": "13912341111",
                    "dialed": "043266453987",
                    "unit": _UNIT,
                    "ivr_keys": "2",
                    "queue": "housing",
                    "queue_display": {"zh": "住房", "en": "Housing"},
                    "wait_s": 23.4,
                    "priority": 2,
                    "priority_reasons": ["repeat caller"],
                    "priority_reason_words": [{"zh": "重复来电", "en": "repeat caller"}],
                    "history": [_PAST],
                    "card": None,
                    "phase": "talking",
                }
            ]
        }
    )

    call: str
    caller: str = Field(description="masked while the call only rings, or is confidential")
    dialed: str
    unit: PopUnit | None
    ivr_keys: str
    queue: str
    queue_display: dict[str, str]
    wait_s: float | None
    priority: int
    priority_reasons: list[str]
    priority_reason_words: list[dict[str, str]]
    history: list[PopPastCall] | None = Field(
        description="the last 30 days, newest first; null: the records did not answer in time"
    )
    card: dict[str, Any] | None = Field(description="the unit's card (GET /units/{code}/card)")
    phase: str = Field(description="ringing | talking | wrap_up | ended")


@router.websocket("/desk")
async def desk_stream(
    websocket: WebSocket,
    hub: Annotated[DeskHub | None, Depends(desk_hub_if_any)],
    tokens: Annotated[TokenStore | None, Depends(token_store_if_any)],
) -> None:
    await serve_desk(websocket, hub, tokens)


async def desk_seat(
    principal: Agent,
    seat: Annotated[
        str | None, Query(max_length=64, description="admin only: the seat", examples=["1001"])
    ] = None,
) -> str:
    """The seat whose desk is asked for, once the caller may see it: a dependency, so
    a 403 comes before any part of the instance is asked for (a 503 without a PBX)."""
    if principal.role is Role.AGENT:
        if not principal.seat:
            raise HTTPException(403, "this agent token is bound to no seat")
        if seat is not None and seat != principal.seat:
            raise HTTPException(
                403, f"an agent's desk is its own seat's ({principal.seat!r}), not {seat!r}"
            )
        return principal.seat
    if not seat:
        raise HTTPException(422, "admin: name the seat whose desk to show (?seat=)")
    return seat


@router.get(
    "/desk/pop",
    response_model=ScreenPop,
    summary="The seat's current call as its screen pop",
    description="The call ringing the agent's seat, or the one it talks to or last "
    "took (its intake may still be due), as the desk's pop shows it, with its `phase` "
    "(ringing, talking, wrap_up, ended). 404 when the seat has had no call. An agent "
    "sees its own seat's; admin names a seat.",
)
async def current_pop(
    seat_id: Annotated[str, Depends(desk_seat)],
    hub: Annotated[DeskHub, Depends(desk_hub)],
) -> dict[str, Any]:
    current = await hub.current(seat_id)
    if current is None or current.pop is None:
        raise HTTPException(404, f"no call at seat {seat_id!r}")
    return hub.shown(current) | {"phase": current.phase}
