"""`GET /api/v1/queues/{name}`: one queue for a supervisor — catalog parameters, callers
waiting (position, wait, priority), callers held by a callback, seats by state, and
today's offered/answered/abandoned/SL15/answer rate. (The list of all queues, live only,
stays at `GET /api/v1/queues` in api/live.py.) Admin, supervisors and agents, like the
list.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request

from api.auth import require_roles
from callcenter.clock import as_utc
from callcenter.legacy.queues import ASTERISK_PREFIX
from callcenter.live.live_state import LiveState
from callcenter.tokens import Principal, Role
from queues.queue_views import HeldCallback, QueueLive, queue_live
from queues.wiring import SeatsSystem

router = APIRouter(prefix="/api/v1", tags=["queues"])


@router.get("/queues/{name}", response_model=QueueLive, summary="One queue now, and today")
async def get_queue(
    request: Request,
    name: Annotated[
        str,
        Path(
            max_length=64,
            description="directory queue name, or the Asterisk one",
            examples=["housing"],
        ),
    ],
    _who: Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.AGENT))],
) -> QueueLive:
    seats: SeatsSystem | None = getattr(request.app.state, "seats", None)
    live: LiveState | None = getattr(request.app.state, "live", None)
    if seats is None or live is None:
        raise HTTPException(503, "seat management is not configured in this instance")
    short = name.removeprefix(ASTERISK_PREFIX)
    spec = seats.catalog.get(short)
    if spec is None:
        raise HTTPException(404, f"no queue {name!r}; known: {', '.join(seats.catalog)}")
    now = live.clock()
    held = [
        HeldCallback(t.id, t.caller, round(now - as_utc(t.due_at).timestamp(), 1), t.priority)
        for t in await seats.callbacks.tasks("open")
        if t.queue == spec.asterisk and t.source == "virtual_hold"
    ]
    states = [live.nodes[n] for n in sorted(live.nodes)]
    return queue_live(spec, states, seats.today, held, now)
