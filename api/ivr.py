"""`GET /api/v1/ivr` and `PUT /api/v1/ivr`: the IVR flow that runs, and replacing it.

Admins only: a flow decides where every citizen's call goes. A PUT is validated exactly
as the flow file is (agi/ivr/model.py: shape, prompts that exist in the catalog, queues
of the queue catalog, reachable menus, bounded sizes) and stored as a new version in
`ivr_flows`; this instance switches to it at once, the others at their next poll
(FlowStore.run). A rejected flow changes nothing and the 422 lists the problems.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from agi.ivr.model import FlowError
from agi.ivr.store import FlowStore
from api.auth import require_roles
from api.services import ivr_flows
from callcenter.tokens import Principal, Role

router = APIRouter(prefix="/api/v1", tags=["ivr"])

Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
Flows = Annotated[FlowStore, Depends(ivr_flows)]

_EXAMPLE: dict[str, Any] = json.loads(
    resources.files("agi.ivr").joinpath("flows.json").read_text(encoding="utf-8")
)


class IvrOut(BaseModel):
    source: str = Field(description="'file' (agi/ivr/flows.json) or 'database id N'")
    version: int
    flow: dict[str, Any] = Field(description="the whole flow, as agi/ivr/flows.json")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"source": "database id 4", "version": _EXAMPLE["version"], "flow": _EXAMPLE}
            ]
        }
    )


def _out(store: FlowStore) -> IvrOut:
    flow = store.current
    return IvrOut(source=store.source, version=flow.version, flow=flow.model_dump(mode="json"))


@router.get("/ivr", response_model=IvrOut, summary="The IVR flow running now (admin)")
async def get_ivr(_: Admin, store: Flows) -> IvrOut:
    return _out(store)


@router.put(
    "/ivr",
    response_model=IvrOut,
    summary="Replace the IVR flow (admin); validated like the flow file, 422 lists problems",
)
async def put_ivr(
    who: Admin,
    store: Flows,
    flow: Annotated[
        dict[str, Any],
        Body(description="a whole flow, as agi/ivr/flows.json", examples=[_EXAMPLE]),
    ],
) -> IvrOut:
    if store.sessions is None:
        raise HTTPException(503, "the IVR has no database in this instance; flows are read-only")
    try:
        await store.save(flow, created_by=f"{who.name} (token {who.token_id})")
    except FlowError as exc:
        raise HTTPException(422, str(exc)) from exc
    await store.reload()
    return _out(store)
