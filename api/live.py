"""Live queues, read-only (`/api/v1/queues`); seats moved to api/seats.py (issue 6)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request

from callcenter.live.live import LiveState
from callcenter.live.views import QueueView, queue_views

router = APIRouter(prefix="/api/v1", tags=["live"])


def _live(request: Request) -> LiveState:
    live: LiveState | None = getattr(request.app.state, "live", None)
    if live is None:
        raise HTTPException(503, "no PBX link configured in this instance")
    return live


def _states(live: LiveState, node: str | None) -> list:  # type: ignore[type-arg]
    if node is None:
        return [live.nodes[name] for name in sorted(live.nodes)]
    if node not in live.nodes:
        raise HTTPException(404, f"unknown PBX node {node!r}; known: {sorted(live.nodes)}")
    return [live.nodes[node]]


@router.get(
    "/queues",
    response_model=list[QueueView],
    summary="Every queue now: waiting callers, longest wait, seats by state",
)
async def list_queues(
    request: Request, node: str | None = Query(None, description="only this PBX node")
) -> list[QueueView]:
    live = _live(request)
    return queue_views(_states(live, node), live.clock())
