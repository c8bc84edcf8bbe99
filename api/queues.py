"""Queues: `GET /api/v1/queues`, every queue now from the live model, and
`GET /api/v1/queues/{name}`, one queue for a supervisor — catalog parameters, callers
waiting (position, wait, priority), callers held by a callback, seats by state, and
today's offered/answered/abandoned/SL15/answer rate.

Admin, supervisors and agents (an agent's desktop shows queue depth); not integration
tokens. Callers' numbers are masked for all but admin (callcenter/privacy.py: a caller
waiting is nobody's call yet). The list is a plain list, not a page: a center has
about ten queues per node.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from pydantic import TypeAdapter

from api.auth import require_roles
from api.queue_names import queue_path
from api.services import (
    BodyCache,
    callback_worklist,
    catalog_wrapups,
    day_book,
    live_state,
    queue_catalog,
    queue_list_cache,
)
from api.stats import FIGURES_EXAMPLE
from callcenter.clock import as_utc
from callcenter.legacy.queues import QueueCatalog, directory_name
from callcenter.live.live_state import LiveState
from callcenter.live.live_views import queue_views
from callcenter.live.node_state import NodeState
from callcenter.live.seat_state import QueueWrapups
from callcenter.privacy import Viewer as NumberViewer
from callcenter.records.kpi import Tally
from callcenter.records.today import DayBook
from callcenter.tokens import Principal, Role
from queues.callbacks import CallbackWorklist
from queues.catalog import QueueSpec, catalog
from queues.queue_views import (
    HeldCallback,
    QueueLive,
    QueueNow,
    named_queue,
    queue_live,
    waiting_caller_shown,
)

router = APIRouter(prefix="/api/v1")

Viewer = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.AGENT))]
Live = Annotated[LiveState, Depends(live_state)]

_QUEUE_LIST = TypeAdapter(list[QueueNow])

_WAITING = {
    "position": 1,
    "uniqueid": "1764141243.2207",
    "linkedid": "1764141243.2207",
    "channel": "PJSIP/trunk-telecom-0000a1f3",
    "caller": "139****1234",
    "waited_s": 37.4,
    "priority": 0,
}
_DISPLAY = {"zh": "住房", "en": "Housing"}
_QUEUE_VIEW = {
    "node": "pbx1",
    "name": "housing",
    "stale": False,
    "strategy": "rrmemory",
    "waiting": 1,
    "longest_wait_s": 37.4,
    "callers": [_WAITING],
    "members": 12,
    "available": 2,
    "ringing": 1,
    "on_call": 7,
    "wrap_up": 1,
    "paused": 1,
    "unavailable": 0,
    "service_level_s": 15,
    "display": _DISPLAY,
    "asterisk": "hotline-housing",
}
_HELD = {"task_id": 318, "caller": "139****1234", "waited_s": 95.0, "priority": 0}
_TODAY = FIGURES_EXAMPLE

#: examples of the response types above that are plain dataclasses of the live model and
#: of queues/ (free of API concerns), by schema name: api/openapi.py puts them into the
#: document, and tests/api/test_openapi_contract.py validates each against its schema
EXAMPLES: dict[str, dict[str, Any]] = {
    "Display": _DISPLAY,
    "WaitingCaller": _WAITING,
    "QueueNow": _QUEUE_VIEW,
    "HeldCallback": _HELD,
    "Figures": _TODAY,
    "QueueLive": {
        "name": "housing",
        "display": _DISPLAY,
        "asterisk": "hotline-housing",
        "strategy": "rrmemory",
        "wrapup_s": 15,
        "ring_timeout_s": 20,
        "overflow_after_s": 120.0,
        "live": _QUEUE_VIEW,
        "seats": {
            "available": 2,
            "ringing": 1,
            "on_call": 7,
            "wrap_up": 1,
            "paused": 1,
            "unavailable": 0,
        },
        "held_callbacks": [_HELD],
        "today": _TODAY,
    },
}


def _states(live: LiveState, node: str | None) -> list[NodeState]:
    if node is None:
        return [live.nodes[name] for name in sorted(live.nodes)]
    if node not in live.nodes:
        raise HTTPException(404, f"unknown PBX node {node!r}; known: {sorted(live.nodes)}")
    return [live.nodes[node]]


@router.get(
    "/queues",
    tags=["live"],
    response_model=list[QueueNow],
    summary="Every queue now: waiting callers, longest wait, seats by state",
    description="A plain list, not paged: about ten queues per PBX node. A queue is "
    "named by the directory (`general`), with its display names and Asterisk's name "
    "(`hotline-general`). Admin, supervisors and agents.",
)
async def list_queues(
    who: Viewer,
    live: Live,
    bodies: Annotated[BodyCache, Depends(queue_list_cache)],
    wrapups: Annotated[QueueWrapups, Depends(catalog_wrapups)],
    queues: Annotated[QueueCatalog, Depends(queue_catalog)],
    node: Annotated[
        str | None, Query(max_length=64, description="only this PBX node", examples=["pbx1"])
    ] = None,
) -> Response:
    """Serialised at most once per live change and tenth of a second: waits are shown to
    0.1 s, so within that window every request would get the same bytes, and a wall of
    screens polling this should not cost a full view each (bench: api_queues_p99_ms).
    A change the hub does not announce (app_queue's counters) shows within 0.1 s."""
    now = live.clock()
    version = (node, live.hub.last_seq, int(now * 10), queues)
    # callers waiting are no seat's calls: one body per way of showing those numbers
    viewer = NumberViewer.of(who).without_seat()
    body = bodies.get(
        (node, viewer),
        version,
        lambda: _QUEUE_LIST.dump_json(
            [
                named_queue(v, queues)
                for v in queue_views(
                    _states(live, node), now, wrapups, waiting_caller_shown(viewer)
                )
            ]
        ),
    )
    return Response(body, media_type="application/json")


@router.get(
    "/queues/{name}",
    tags=["queues"],
    response_model=QueueLive,
    summary="One queue now, and today",
)
async def get_queue(
    who: Viewer,
    asterisk: Annotated[str, Depends(queue_path)],
    live: Live,
    queues: Annotated[QueueCatalog, Depends(queue_catalog)],
    day: Annotated[DayBook, Depends(day_book)],
    callbacks: Annotated[CallbackWorklist, Depends(callback_worklist)],
) -> QueueLive:
    name = directory_name(asterisk)
    spec: QueueSpec | None = catalog(queues).get(name)
    if spec is None:  # removed from the catalogue since the path was read
        raise HTTPException(404, f"queue {name!r} is not in the queue catalogue")
    now = live.clock()
    held = [
        HeldCallback(t.id, t.caller, round(now - as_utc(t.due_at).timestamp(), 1), t.priority)
        for t in await callbacks.tasks("open")
        if t.queue == spec.asterisk and t.source == "virtual_hold"
    ]
    states = [live.nodes[n] for n in sorted(live.nodes)]
    today = day.view().queues.get(spec.asterisk) or Tally().figures()
    return queue_live(spec, states, today, held, now, NumberViewer.of(who), catalog=queues)
