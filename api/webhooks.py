"""The webhooks outbox's deliveries: `GET /api/v1/webhooks/deliveries` (admin and
integration tokens: the platform's operators see what did not reach them) and
`POST /api/v1/webhooks/deliveries/{id}/retry` (admin: a failed delivery is tried
again, with a fresh window of retries). Paged newest first (api/pagination.py); the
retry is audited like every change (api/audit_log.py). What a delivery carries and how
it is signed: callcenter/webhooks/ and the README."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require_roles
from api.city import City, OptionalStamp, Stamp, written
from api.pagination import Page, Paging
from api.services import webhook_deliveries
from callcenter.config import WEBHOOK_EVENTS
from callcenter.tokens import Principal, Role
from callcenter.webhooks.deliveries import DeliveryFact, NotFailed, SqlDeliveries

router = APIRouter(prefix="/api/v1", tags=["webhooks"])
Reader = Annotated[Principal, Depends(require_roles(Role.INTEGRATION))]
Admin = Annotated[Principal, Depends(require_roles())]
Deliveries = Annotated[SqlDeliveries, Depends(webhook_deliveries)]
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the delivery's id")]
Status = Literal["pending", "delivered", "failed"]

_DELIVERY: dict[str, Any] = {
    "id": 5120,
    "delivery_id": "3f0c2a8e-6d1b-4b7e-9a51-0c7f4e2b9d11",
    "subscription": "province",
    "event_id": 4077,
    "event_type": "call.ended",
    "stream": "call:pbx1:1764141243.2207",
    "status": "failed",
    "attempts": 19,
    "next_attempt_at": None,
    "last_status": 503,
    "last_error": "HTTP 503: Service Unavailable",
    "delivered_at": None,
    "created_at": "2026-12-01T09:19:42+08:00",
}


class DeliveryOut(BaseModel):
    id: int
    delivery_id: str = Field(description="`X-Hotline-Delivery`: the same on every retry")
    subscription: str = Field(description="the subscription's name (its URL if unnamed)")
    event_id: int
    event_type: str = Field(description=" | ".join(WEBHOOK_EVENTS))
    stream: str = Field(
        description="what the event is about: `call:<node>:<Linkedid>` or `callback:<id>`; "
        "a stream's events are delivered in order"
    )
    status: Status
    attempts: int
    next_attempt_at: OptionalStamp = Field(description="the next try; null unless pending")
    last_status: int | None = Field(description="the receiver's last HTTP status; null: none")
    last_error: str
    delivered_at: OptionalStamp
    created_at: Stamp

    model_config = ConfigDict(json_schema_extra={"examples": [_DELIVERY]})


def _out(fact: DeliveryFact, city: City) -> DeliveryOut:
    return written(DeliveryOut, fact, city)


@router.get(
    "/webhooks/deliveries",
    response_model=Page[DeliveryOut],
    summary="Webhook deliveries, newest first",
)
async def list_deliveries(
    _: Reader,
    page: Paging,
    deliveries: Deliveries,
    city: City,
    status: Annotated[Status | None, Query(description="only deliveries in this state")] = None,
) -> Page[DeliveryOut]:
    after = page.after(int)
    rows = await deliveries.page(status, int(after[0]) if after else None, page.fetch)
    return page.of(rows, key=lambda d: (d.id,), item=lambda d: _out(d, city))


@router.post(
    "/webhooks/deliveries/{delivery_id}/retry",
    response_model=DeliveryOut,
    summary="Try a failed delivery again",
    responses={
        404: {"description": "no such delivery"},
        409: {"description": "the delivery is not failed"},
    },
)
async def retry_delivery(
    delivery_id: DeliveryId, _: Admin, deliveries: Deliveries, city: City
) -> DeliveryOut:
    try:
        fact = await deliveries.retry(delivery_id)
    except KeyError:
        raise HTTPException(404, f"no webhook delivery {delivery_id}") from None
    except NotFailed as exc:
        raise HTTPException(409, str(exc)) from None
    return _out(fact, city)
