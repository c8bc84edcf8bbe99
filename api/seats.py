"""Seats: `GET /api/v1/seats[/{id}]` (database seats with their live state) and the
agent actions login/logout/pause/unpause.

Who may see: supervisors (and admin) every seat; an agent only their own (the list is
that one seat, another seat's id is a 403); integration tokens none (they reach the
directory and records, not the floor). Who may act: an agent only on their own seat; a
supervisor may pause or log out any seat (taking someone off the floor) but not log a
seat in or unpause it for someone who is not there; integration tokens may not act at
all; admin may do everything.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require_roles
from api.pagination import Page, Paging
from callcenter.live.live_state import LiveState
from callcenter.live.node_state import NodeState
from callcenter.tokens import Principal, Role
from queues.errors import SeatError
from queues.models import Seat
from queues.queue_views import SeatStatus, seat_statuses
from queues.repository import SeatStats
from queues.wiring import SeatsSystem

router = APIRouter(prefix="/api/v1", tags=["seats"])


SeatId = Annotated[str, Path(max_length=64, description="the seat's id", examples=["1001"])]
Viewer = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.AGENT))]


class PauseBody(BaseModel):
    reason: str = Field(
        max_length=64, description="a configured pause reason code, e.g. break, meal"
    )

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "meal"}]})


def _live(request: Request) -> LiveState | None:
    return getattr(request.app.state, "live", None)


def _seats(request: Request) -> SeatsSystem | None:
    return getattr(request.app.state, "seats", None)


def _need_seats(request: Request) -> SeatsSystem:
    seats = _seats(request)
    if seats is None:
        raise HTTPException(503, "seat management is not configured in this instance")
    return seats


def _states(live: LiveState | None, node: str | None) -> list[NodeState]:
    if live is None:
        return []
    if node is None:
        return [live.nodes[name] for name in sorted(live.nodes)]
    if node not in live.nodes:
        raise HTTPException(404, f"unknown PBX node {node!r}; known: {sorted(live.nodes)}")
    return [live.nodes[node]]


async def _statuses(request: Request, node: str | None) -> list[SeatStatus]:
    live, seats = _live(request), _seats(request)
    if live is None and seats is None:
        raise HTTPException(503, "no PBX link configured in this instance")
    rows: list[Seat] = await seats.repo.seats(node) if seats is not None else []
    now = live.clock() if live is not None else datetime.now(UTC).timestamp()
    tracker = seats.tracker if seats is not None else None
    return seat_statuses(rows, _states(live, node), tracker, now)


def _seat_key(status: SeatStatus) -> tuple[str, str, str]:
    """The list's order (views.seat_statuses: by extension, unprovisioned members last),
    made unique by the node: the keyset of its cursor."""
    return status.extension or "~", status.interface, status.node


def _own_seat(principal: Principal) -> str:
    if not principal.seat:
        raise HTTPException(403, "this agent token is bound to no seat")
    return principal.seat


@router.get(
    "/seats",
    response_model=Page[SeatStatus],
    summary="Every seat: provisioned seats (offline too) and every queue member now",
    description="Supervisors see every seat, an agent only its own. By extension; queue "
    "members that no provisioned seat owns come last.",
)
async def list_seats(
    request: Request,
    principal: Viewer,
    page: Paging,
    node: Annotated[
        str | None, Query(max_length=64, description="only this PBX node", examples=["pbx1"])
    ] = None,
) -> Page[SeatStatus]:
    after = page.after(str, str, str)
    rows = sorted(await _statuses(request, node), key=_seat_key)
    if principal.role is Role.AGENT:
        mine = _own_seat(principal)
        rows = [s for s in rows if s.id == mine]
    return page.within(rows, after, key=_seat_key, item=lambda s: s)


@router.get("/seats/{seat_id}", response_model=SeatStatus, summary="One seat now")
async def get_seat(request: Request, seat_id: SeatId, principal: Viewer) -> SeatStatus:
    _own_seat_only(principal, seat_id)
    return await _one(request, seat_id)


async def _one(request: Request, seat_id: str) -> SeatStatus:
    seats = _need_seats(request)
    seat = await seats.repo.seat(seat_id)
    if seat is None:
        raise HTTPException(404, f"no seat {seat_id!r}")
    for status in await _statuses(request, seat.node):
        if status.id == seat_id:
            return status
    raise HTTPException(404, f"no seat {seat_id!r}")  # pragma: no cover (seat just read)


@router.get(
    "/seats/{seat_id}/stats",
    response_model=SeatStats,
    summary="Login time, pause time by reason, calls and talk time over the last hours",
)
async def seat_stats(
    request: Request,
    seat_id: SeatId,
    principal: Annotated[
        Principal, Depends(require_roles(Role.SUPERVISOR, Role.INTEGRATION, Role.AGENT))
    ],
    hours: Annotated[
        float, Query(gt=0, le=24 * 31, description="the period: this many hours up to now")
    ] = 24.0,
) -> SeatStats:
    _own_seat_only(principal, seat_id)
    seats = _need_seats(request)
    until = datetime.now(UTC)
    stats = await seats.repo.stats(until - timedelta(hours=hours), until, [seat_id])
    return stats.get(seat_id, SeatStats(seat_id))


def _own_seat_only(principal: Principal, seat_id: str) -> None:
    if principal.role is Role.AGENT and _own_seat(principal) != seat_id:
        raise HTTPException(
            403, f"an agent token acts only on its own seat ({principal.seat!r}), not {seat_id!r}"
        )


async def _act(request: Request, seat_id: SeatId, action: str, reason: str = "") -> SeatStatus:
    service = _need_seats(request).service
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
    return await _one(request, seat_id)


AgentOrAdmin = Annotated[Principal, Depends(require_roles(Role.AGENT))]
AgentOrSupervisor = Annotated[Principal, Depends(require_roles(Role.AGENT, Role.SUPERVISOR))]


@router.post("/seats/{seat_id}/login", response_model=SeatStatus, summary="Log in to its queues")
async def login(request: Request, seat_id: SeatId, principal: AgentOrAdmin) -> SeatStatus:
    _own_seat_only(principal, seat_id)
    return await _act(request, seat_id, "login")


@router.post("/seats/{seat_id}/logout", response_model=SeatStatus, summary="Leave all queues")
async def logout(request: Request, seat_id: SeatId, principal: AgentOrSupervisor) -> SeatStatus:
    _own_seat_only(principal, seat_id)
    return await _act(request, seat_id, "logout")


@router.post("/seats/{seat_id}/pause", response_model=SeatStatus, summary="Pause with a reason")
async def pause(
    request: Request, seat_id: SeatId, body: PauseBody, principal: AgentOrSupervisor
) -> SeatStatus:
    _own_seat_only(principal, seat_id)
    return await _act(request, seat_id, "pause", body.reason)


@router.post("/seats/{seat_id}/unpause", response_model=SeatStatus, summary="Take calls again")
async def unpause(request: Request, seat_id: SeatId, principal: AgentOrAdmin) -> SeatStatus:
    _own_seat_only(principal, seat_id)
    return await _act(request, seat_id, "unpause")
