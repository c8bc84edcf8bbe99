"""`/api/v1/queue-catalog`: the queue catalogue for screens, and its changes for admins.

Reads give the catalogue in force on this instance. Writes go through the same store
as `callcenter queues ...` (callcenter/legacy/catalog_store.py), with the same rules and
the same refusal of a removal while the queue is used (queues/catalog.py
`removal_checks`); this instance uses the result at once, the others within their next
reload. Asterisk learns of a change only from the rendered configuration: every write's
answer says so (`next_step`).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field

from agi.ivr.model import flow_users
from agi.ivr.store import FlowStore
from api.auth import require_roles
from api.services import ApiServices, api_services, queue_catalog
from callcenter.legacy.catalog_store import CatalogStore, QueueInUse
from callcenter.legacy.queues import (
    MAX_DISPLAY_LEN,
    CatalogError,
    CatalogQueue,
    Display,
    QueueCatalog,
    UnknownQueue,
)
from callcenter.tokens import Principal, Role
from queues.catalog import catalog as queue_specs
from queues.catalog import removal_checks

router = APIRouter(prefix="/api/v1", tags=["queues"])

Reader = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.AGENT))]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
Queues = Annotated[QueueCatalog, Depends(queue_catalog)]
NamePath = Annotated[str, Path(max_length=64, description="directory name", examples=["tourism"])]

NEXT_STEP = (
    "render the Asterisk configuration (`callcenter asterisk-conf render`), install it on "
    "every node and run `queue reload all` and `dialplan reload`"
)
_DISPLAY: dict[str, Any] = {"zh": "文化旅游", "en": "Culture and tourism"}
_ENTRY: dict[str, Any] = {
    "name": "tourism",
    "asterisk": "hotline-tourism",
    "display": _DISPLAY,
    "position": 110,
    "strategy": "leastrecent",
    "wrapup_s": 20,
    "ring_timeout_s": 15,
    "service_level_s": 15,
    "overflow_after_s": 90.0,
}


class DisplayIn(BaseModel):
    """A queue's display names (one line each; control characters are refused)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_DISPLAY]})

    zh: str = Field(min_length=1, max_length=MAX_DISPLAY_LEN)
    en: str = Field(min_length=1, max_length=MAX_DISPLAY_LEN)


class CatalogEntry(BaseModel):
    """A queue of the catalogue: its names, what app_queue is configured with, and
    when its callers are also offered to general seats."""

    name: str = Field(description="the directory's name, used by every filter and path")
    asterisk: str = Field(description="Asterisk's name (what records and queue_log keep)")
    display: dict[str, str] = Field(description="display names by language (zh, en)")
    position: int = Field(description="order on screens (then name)")
    strategy: str = Field(description="app_queue's ring strategy")
    wrapup_s: int = Field(description="app_queue's wrapuptime")
    ring_timeout_s: int = Field(description="how long a seat's phone rings (every queue)")
    service_level_s: int = Field(
        description="app_queue's servicelevel: the city's SL15 threshold, on every queue"
    )
    overflow_after_s: float | None = Field(
        description="a caller waiting this long is also offered to general seats (null: never)"
    )

    model_config = ConfigDict(json_schema_extra={"examples": [_ENTRY]})


class QueueIn(BaseModel):
    """A new queue; what is left out takes the default (leastrecent, 10 s wrap-up, no
    overflow, after the last queue on screens)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "tourism", "display": _DISPLAY, "wrapup_s": 20}]},
    )

    name: str = Field(min_length=1, max_length=32)
    display: DisplayIn
    strategy: str = Field(default="leastrecent", max_length=16)
    wrapup_s: int = Field(default=10, ge=0, le=86400)
    overflow_after_s: float | None = Field(default=None, ge=0, le=86400)
    position: int | None = Field(default=None, ge=0, le=1_000_000)


class QueuePatch(BaseModel):
    """What to change of a queue; `overflow_after_s: null` stops its overflow."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"wrapup_s": 15, "overflow_after_s": None}]},
    )

    display: DisplayIn | None = None
    strategy: str | None = Field(default=None, max_length=16)
    wrapup_s: int | None = Field(default=None, ge=0, le=86400)
    overflow_after_s: float | None = Field(default=None, ge=0, le=86400)
    position: int | None = Field(default=None, ge=0, le=1_000_000)


class CatalogChanged(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"queues": [_ENTRY], "next_step": NEXT_STEP}]}
    )

    queues: list[CatalogEntry]
    next_step: str = Field(description="what makes Asterisk serve the change")


def entries(queues: QueueCatalog) -> list[CatalogEntry]:
    specs = queue_specs(queues)
    return [
        CatalogEntry(
            name=q.name,
            asterisk=q.asterisk,
            display={"zh": q.display.zh, "en": q.display.en},
            position=q.position,
            strategy=q.strategy,
            wrapup_s=q.wrapup_s,
            ring_timeout_s=specs[q.name].ring_timeout_s,
            service_level_s=specs[q.name].service_level_s,
            overflow_after_s=q.overflow_after_s,
        )
        for q in queues.queues
    ]


def _store(services: ApiServices) -> CatalogStore:
    if services.catalog_store is None:
        raise HTTPException(503, "the queue catalogue has no database in this instance")
    return services.catalog_store


def _installed(services: ApiServices, changed: QueueCatalog) -> CatalogChanged:
    services.catalog.replace(changed)
    return CatalogChanged(queues=entries(changed), next_step=NEXT_STEP)


async def _changed(services: ApiServices, change: Awaitable[QueueCatalog]) -> CatalogChanged:
    """The catalogue `change` stores, installed; refused as 404 (an unknown queue), 409
    (a queue still in use, naming its users) or 422 (every rule broken), nothing changed."""
    try:
        changed = await change
    except UnknownQueue as exc:
        raise HTTPException(404, str(exc)) from None
    except CatalogError as exc:
        status = 409 if isinstance(exc, QueueInUse) else 422
        raise HTTPException(status, "; ".join(exc.problems)) from None
    return _installed(services, changed)


@router.get(
    "/queue-catalog",
    response_model=list[CatalogEntry],
    summary="The queue catalogue: every queue, in screen order, with its parameters",
    description="What screens label queues with and what `callcenter asterisk-conf render` "
    "writes into queues.conf; every instance reloads it within 30 s of a change. Admin, "
    "supervisors and agents.",
)
async def get_queue_catalog(_who: Reader, queues: Queues) -> list[CatalogEntry]:
    return entries(queues)


@router.post(
    "/queue-catalog",
    response_model=CatalogChanged,
    status_code=201,
    summary="Add a queue (admin); 422 names every rule broken",
)
async def add_queue(
    who: Admin, body: QueueIn, services: Annotated[ApiServices, Depends(api_services)]
) -> CatalogChanged:
    store = _store(services)
    last = max((q.position for q in services.catalog.current.queues), default=0)
    queue = CatalogQueue(
        name=body.name,
        display=Display(body.display.zh, body.display.en),
        strategy=body.strategy,
        wrapup_s=body.wrapup_s,
        overflow_after_s=body.overflow_after_s,
        position=last + 10 if body.position is None else body.position,
    )
    return await _changed(services, store.add(queue, f"{who.name} (token {who.token_id})"))


@router.patch(
    "/queue-catalog/{name}",
    response_model=CatalogChanged,
    summary="Change a queue (admin); 404 unknown, 422 names every rule broken",
)
async def update_queue(
    who: Admin,
    name: NamePath,
    body: QueuePatch,
    services: Annotated[ApiServices, Depends(api_services)],
) -> CatalogChanged:
    store = _store(services)
    given = body.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {k: v for k, v in given.items() if k != "display"}
    if body.display is not None:
        changes |= {"display_zh": body.display.zh, "display_en": body.display.en}
    if not changes:
        raise HTTPException(422, "nothing to change")
    author = f"{who.name} (token {who.token_id})"
    return await _changed(services, store.update(name, changes, author))


@router.delete(
    "/queue-catalog/{name}",
    response_model=CatalogChanged,
    summary="Remove a queue (admin); 409 naming whoever still uses it",
)
async def remove_queue(
    _who: Admin, name: NamePath, services: Annotated[ApiServices, Depends(api_services)]
) -> CatalogChanged:
    store = _store(services)
    flows: FlowStore | None = services.ivr
    if flows is None:
        raise HTTPException(503, "the IVR is not configured here: its use of a queue is unknown")
    return await _changed(services, store.remove(name, removal_checks(flow_users(flows))))
