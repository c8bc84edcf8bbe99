"""Live queues, read-only (`/api/v1/queues`).

Admin, supervisors and agents (an agent's desktop shows queue depth); not integration
tokens. A plain list, not a page: a center has about ten queues per node.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import TypeAdapter

from api.auth import require_roles
from callcenter.live.live_state import LiveState
from callcenter.live.live_views import QueueView, queue_views
from callcenter.live.node_state import NodeState
from callcenter.live.seat_state import QueueWrapups
from callcenter.tokens import Principal, Role
from queues.wiring import SeatsSystem

router = APIRouter(prefix="/api/v1", tags=["live"])

_QUEUE_LIST = TypeAdapter(list[QueueView])


def _live(request: Request) -> LiveState:
    live: LiveState | None = getattr(request.app.state, "live", None)
    if live is None:
        raise HTTPException(503, "no PBX link configured in this instance")
    return live


def _wrapups(request: Request) -> QueueWrapups:
    """The queues' own wrap-ups (the catalog's), as `/api/v1/queues/{name}` counts them."""
    seats: SeatsSystem | None = getattr(request.app.state, "seats", None)
    return seats.wrapups if seats is not None else {}


def _states(live: LiveState, node: str | None) -> list[NodeState]:
    if node is None:
        return [live.nodes[name] for name in sorted(live.nodes)]
    if node not in live.nodes:
        raise HTTPException(404, f"unknown PBX node {node!r}; known: {sorted(live.nodes)}")
    return [live.nodes[node]]


@router.get(
    "/queues",
    response_model=list[QueueView],
    summary="Every queue now: waiting callers, longest wait, seats by state",
    description="A plain list, not paged: about ten queues per PBX node. Admin, "
    "supervisors and agents.",
)
async def list_queues(
    request: Request,
    _who: Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.AGENT))],
    node: Annotated[
        str | None, Query(max_length=64, description="only this PBX node", examples=["pbx1"])
    ] = None,
) -> Response:
    """Serialised at most once per live change and tenth of a second: waits are shown to
    0.1 s, so within that window every request would get the same bytes, and a wall of
    screens polling this should not cost a full view each (bench: api_queues_p99_ms).
    A change the hub does not announce (app_queue's counters) shows within 0.1 s."""
    live = _live(request)
    now = live.clock()
    key = (node, live.hub.last_seq, int(now * 10))
    cache: dict[str | None, tuple[object, bytes]] | None = getattr(
        request.app.state, "queue_list_cache", None
    )
    if cache is None:
        cache = request.app.state.queue_list_cache = {}
    hit = cache.get(node)
    if hit is None or hit[0] != key:
        body = _QUEUE_LIST.dump_json(queue_views(_states(live, node), now, _wrapups(request)))
        cache[node] = hit = (key, body)
    return Response(hit[1], media_type="application/json")
