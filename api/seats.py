"""Seats: `GET /api/v1/seats[/{id}]` (database seats with their live state) and the
agent actions login/logout/pause/unpause.

Who may see: supervisors (and admin) every seat; an agent only their own (the list is
that one seat, another seat's id is a 403); integration tokens every seat, as they read
every seat's stats (a workforce system lists the seats, then asks for their figures;
seat rows carry no caller numbers). Who may act: an agent only on their own seat; a
supervisor may pause, unpause or log out any seat (taking someone off the floor, and
undoing that or an auto-pause Asterisk made when the seat let a call ring out) but not
log a seat in for someone who is not there; integration tokens may not act at all;
admin may do everything.

A seat's configuration (`PATCH /seats/{id}`: skills, interface, node) is admin's only,
as provisioning is: skills decide which citizens' calls reach whom, so one role owns
routing, and a supervisor who wants a seat off a queue for a while pauses or logs it
out. The change is applied to Asterisk at once for a logged-in seat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require_roles
from api.pagination import Page, Paging
from api.services import (
    NO_SEATS,
    city_time,
    day_book_if_any,
    live_state_if_any,
    queue_catalog,
    seat_repository,
    seat_repository_if_any,
    seat_service,
    seat_states_if_any,
)
from callcenter.clock import CityTime
from callcenter.legacy.queues import QueueCatalog
from callcenter.live.live_state import LiveState
from callcenter.live.node_state import NodeState
from callcenter.records.today import DayBook
from callcenter.tokens import Principal, Role
from queues.errors import SeatError
from queues.models import Seat
from queues.queue_views import SeatStatus, seat_statuses
from queues.repository import SeatRepository, SeatStats
from queues.seat_config import SeatUpdate
from queues.seat_state import StateTracker
from queues.seats import SeatService

router = APIRouter(prefix="/api/v1", tags=["seats"])

_SEAT_QUEUE = {
    "queue": "housing",
    "penalty": 0,
    "paused": True,
    "paused_reason": "meal",
    "display": {"zh": "住房", "en": "Housing"},
    "asterisk": "hotline-housing",
}

#: examples of the response types of queues/ (plain dataclasses, free of API concerns),
#: by schema name: api/openapi.py puts them into the document, and
#: tests/api/test_openapi_contract.py validates each against its schema
EXAMPLES: dict[str, dict[str, Any]] = {
    "SeatMembership": _SEAT_QUEUE,
    "SeatStatus": {
        "id": "1001",
        "extension": "1001",
        "skills": {"general": 3, "housing": 5},
        "logged_in": True,
        "pause_reason_db": "meal",
        "state": "paused",
        "state_reason": "meal",
        "state_since": "2026-11-26T15:14:03+08:00",
        "node": "pbx1",
        "interface": "PJSIP/1001",
        "name": "1001 王芳",
        "status": 1,
        "status_text": "not in use",
        "paused": True,
        "paused_reason": "meal",
        "in_call": False,
        "calls_today": 23,
        "talk_today_s": 5412.0,
        "last_call": "2026-11-26T15:08:31+08:00",
        "state_interface": "PJSIP/1001",
        "stale": False,
        "queues": [_SEAT_QUEUE],
    },
    "SeatStats": {
        "seat_id": "1001",
        "login_s": 25200.0,
        "pause_s": {"meal": 1800.0, "break": 600.0},
        "calls": 61,
        "talk_s": 14523.5,
    },
}


SeatId = Annotated[str, Path(max_length=64, description="the seat's id", examples=["1001"])]
Viewer = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.INTEGRATION, Role.AGENT))]


class SeatUpdateBody(BaseModel):
    skills: dict[str, Annotated[int, Field(ge=1, le=5)]] | None = Field(
        default=None,
        description="queue short name -> level 1 (learning) .. 5 (expert); replaces all",
    )
    interface: str | None = Field(
        default=None, max_length=120, description="the dial interface, e.g. PJSIP/1001"
    )
    node: str | None = Field(default=None, max_length=64, description="a configured PBX node")

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"skills": {"general": 3, "housing": 5}}]},
    )


class PauseBody(BaseModel):
    reason: str = Field(
        max_length=64, description="a configured pause reason code, e.g. break, meal"
    )

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "meal"}]})


def _own_seat(principal: Principal) -> str:
    if not principal.seat:
        raise HTTPException(403, "this agent token is bound to no seat")
    return principal.seat


def _in_reach(principal: Principal, seat_id: str) -> str:
    """The seat, if the principal may reach it: an agent only its own."""
    if principal.role is Role.AGENT and _own_seat(principal) != seat_id:
        raise HTTPException(
            403, f"an agent token acts only on its own seat ({principal.seat!r}), not {seat_id!r}"
        )
    return seat_id


AgentOrAdmin = Annotated[Principal, Depends(require_roles(Role.AGENT))]
AgentOrSupervisor = Annotated[Principal, Depends(require_roles(Role.AGENT, Role.SUPERVISOR))]
StatsReader = Annotated[
    Principal, Depends(require_roles(Role.SUPERVISOR, Role.INTEGRATION, Role.AGENT))
]


# The path's seat id, once the caller may reach it: dependencies, so that a 403 comes
# before any part of the instance is asked for (a 503 where seats are not configured).
async def viewed_seat(seat_id: SeatId, principal: Viewer) -> str:
    return _in_reach(principal, seat_id)


async def counted_seat(seat_id: SeatId, principal: StatsReader) -> str:
    return _in_reach(principal, seat_id)


async def own_seat(seat_id: SeatId, principal: AgentOrAdmin) -> str:
    """Logging in: the agent at the seat (or admin), not a supervisor."""
    return _in_reach(principal, seat_id)


async def managed_seat(seat_id: SeatId, principal: AgentOrSupervisor) -> str:
    """Logging out, pausing and unpausing: a supervisor too, running the floor."""
    return _in_reach(principal, seat_id)


async def configured_seat(
    seat_id: SeatId, principal: Annotated[Principal, Depends(require_roles())]
) -> str:
    """Changing a seat's configuration: admin only."""
    return seat_id


ViewedSeat = Annotated[str, Depends(viewed_seat)]
CountedSeat = Annotated[str, Depends(counted_seat)]
OwnSeat = Annotated[str, Depends(own_seat)]
ManagedSeat = Annotated[str, Depends(managed_seat)]
ConfiguredSeat = Annotated[str, Depends(configured_seat)]
Seats = Annotated[SeatRepository, Depends(seat_repository)]
Actions = Annotated[SeatService, Depends(seat_service)]


def _states(live: LiveState | None, node: str | None) -> list[NodeState]:
    if live is None:
        return []
    if node is None:
        return [live.nodes[name] for name in sorted(live.nodes)]
    if node not in live.nodes:
        raise HTTPException(404, f"unknown PBX node {node!r}; known: {sorted(live.nodes)}")
    return [live.nodes[node]]


@dataclass(frozen=True)
class Floor:
    """The seats as `GET /seats` shows them: provisioned seats (offline too) joined with
    the queue members of the live model, each in its state. An instance may lack either
    the seats or the PBX link, not both."""

    seats: SeatRepository | None
    states: StateTracker | None
    live: LiveState | None
    city: CityTime
    #: the day so far: each seat's calls and talk time today
    day: DayBook | None = None
    #: names the queues of each seat's memberships
    catalog: QueueCatalog = field(default_factory=QueueCatalog.default)

    async def statuses(self, node: str | None) -> list[SeatStatus]:
        if self.live is None and self.seats is None:
            raise HTTPException(503, "no PBX link configured in this instance")
        rows: list[Seat] = await self.seats.seats(node) if self.seats is not None else []
        now = self.live.clock() if self.live is not None else datetime.now(UTC).timestamp()
        calls = self.day.seats() if self.day is not None else None
        states = _states(self.live, node)
        return seat_statuses(rows, states, self.states, now, self.city, calls, catalog=self.catalog)

    async def status(self, seat_id: str) -> SeatStatus:
        if self.seats is None:
            raise HTTPException(503, NO_SEATS)
        seat = await self.seats.seat(seat_id)
        if seat is None:
            raise HTTPException(404, f"no seat {seat_id!r}")
        for status in await self.statuses(seat.node):
            if status.id == seat_id:
                return status
        raise HTTPException(404, f"no seat {seat_id!r}")  # pragma: no cover (seat just read)


async def seat_floor(
    seats: Annotated[SeatRepository | None, Depends(seat_repository_if_any)],
    states: Annotated[StateTracker | None, Depends(seat_states_if_any)],
    live: Annotated[LiveState | None, Depends(live_state_if_any)],
    city: Annotated[CityTime, Depends(city_time)],
    day: Annotated[DayBook | None, Depends(day_book_if_any)],
    catalog: Annotated[QueueCatalog, Depends(queue_catalog)],
) -> Floor:
    return Floor(seats, states, live, city, day, catalog)


OnTheFloor = Annotated[Floor, Depends(seat_floor)]


def _seat_key(status: SeatStatus) -> tuple[str, str, str]:
    """The list's order (views.seat_statuses: by extension, unprovisioned members last),
    made unique by the node: the keyset of its cursor."""
    return status.extension or "~", status.interface, status.node


@router.get(
    "/seats",
    response_model=Page[SeatStatus],
    summary="Every seat: provisioned seats (offline too) and every queue member now",
    description="Supervisors and integration tokens see every seat, an agent only its "
    "own. By extension; queue "
    "members that no provisioned seat owns come last.",
)
async def list_seats(
    principal: Viewer,
    page: Paging,
    floor: OnTheFloor,
    node: Annotated[
        str | None, Query(max_length=64, description="only this PBX node", examples=["pbx1"])
    ] = None,
) -> Page[SeatStatus]:
    after = page.after(str, str, str)
    rows = sorted(await floor.statuses(node), key=_seat_key)
    if principal.role is Role.AGENT:
        mine = _own_seat(principal)
        rows = [s for s in rows if s.id == mine]
    return page.within(rows, after, key=_seat_key, item=lambda s: s)


@router.get("/seats/{seat_id}", response_model=SeatStatus, summary="One seat now")
async def get_seat(seat_id: ViewedSeat, floor: OnTheFloor) -> SeatStatus:
    return await floor.status(seat_id)


@router.get(
    "/seats/{seat_id}/stats",
    response_model=SeatStats,
    summary="Login time, pause time by reason, calls and talk time over the last hours",
)
async def seat_stats(
    seat_id: CountedSeat,
    seats: Seats,
    hours: Annotated[
        float, Query(gt=0, le=24 * 31, description="the period: this many hours up to now")
    ] = 24.0,
) -> SeatStats:
    until = datetime.now(UTC)
    stats = await seats.stats(until - timedelta(hours=hours), until, [seat_id])
    return stats.get(seat_id, SeatStats(seat_id))


async def _act(
    service: SeatService, floor: Floor, seat_id: str, action: str, reason: str = ""
) -> SeatStatus:
    try:
        if action == "login":
            await service.login(seat_id)
        elif action == "logout":
            await service.logout(seat_id)
        elif action == "pause":
            await service.pause(seat_id, reason)
        else:
            await service.unpause(seat_id)
    except SeatError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    return await floor.status(seat_id)


@router.post("/seats/{seat_id}/login", response_model=SeatStatus, summary="Log in to its queues")
async def login(seat_id: OwnSeat, service: Actions, floor: OnTheFloor) -> SeatStatus:
    return await _act(service, floor, seat_id, "login")


@router.post("/seats/{seat_id}/logout", response_model=SeatStatus, summary="Leave all queues")
async def logout(seat_id: ManagedSeat, service: Actions, floor: OnTheFloor) -> SeatStatus:
    return await _act(service, floor, seat_id, "logout")


@router.post("/seats/{seat_id}/pause", response_model=SeatStatus, summary="Pause with a reason")
async def pause(
    seat_id: ManagedSeat, body: PauseBody, service: Actions, floor: OnTheFloor
) -> SeatStatus:
    return await _act(service, floor, seat_id, "pause", body.reason)


@router.post(
    "/seats/{seat_id}/unpause",
    response_model=SeatStatus,
    summary="Take calls again (also after an auto-pause)",
)
async def unpause(seat_id: ManagedSeat, service: Actions, floor: OnTheFloor) -> SeatStatus:
    return await _act(service, floor, seat_id, "unpause")


@router.patch(
    "/seats/{seat_id}",
    response_model=SeatStatus,
    summary="Change a seat's skills, interface or node (applied at once if logged in)",
    description="Admin only. Fields left out stay as they are; `skills` replaces the "
    "whole set. For a logged-in seat Asterisk is changed first (memberships added, "
    "penalties changed, memberships removed); if it refuses, what was done is undone "
    "and the seat stays as it was (502/503).",
)
async def update_seat(
    seat_id: ConfiguredSeat, body: SeatUpdateBody, service: Actions, floor: OnTheFloor
) -> SeatStatus:
    change = SeatUpdate(body.skills, body.interface, body.node)
    try:
        await service.update(seat_id, change)
    except SeatError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    return await floor.status(seat_id)
