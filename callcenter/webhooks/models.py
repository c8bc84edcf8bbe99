"""The outbox tables (migration 0015).

`webhook_events` holds each event once, as the body every subscriber receives: JSON
text serialised when the event was announced, so the bytes signed on every retry are
the same. `dedupe_key` says which fact an event announces (`call.ended:pbx1:1764.1`):
a fact written twice (a replayed spool file, a second instance writing the same call)
announces nothing the second time.

`webhook_deliveries` is one event for one subscription: its own state, attempts and
lease. `stream` (the call's key) repeats the event's so that "is an earlier delivery of
this call still pending" is one index range. `lease_until` is how instances sharing the
database divide the work: a delivery is claimed by setting it, and a claim lapses if its
instance dies mid-request. `window_start` starts the 24 hours of retries (again from a
manual retry).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.models import Base

#: BIGINT on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the rowid that counts up
ID = BigInteger().with_variant(Integer(), "sqlite")

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
STATUSES = (PENDING, DELIVERED, FAILED)


class WebhookEvent(Base):
    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    event_type: Mapped[str] = mapped_column(String(32))
    #: the call (`call:<node>:<linkedid>`) or callback (`callback:<id>`) it is about:
    #: deliveries of one stream go out in id order
    stream: Mapped[str] = mapped_column(String(120))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at", "id"),
        Index("ix_webhook_deliveries_stream", "subscription", "stream", "status", "event_id"),
        Index("ix_webhook_deliveries_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    #: `X-Hotline-Delivery`: one per event and subscription, the same on every retry
    delivery_id: Mapped[str] = mapped_column(String(36), unique=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id"), index=True)
    subscription: Mapped[str] = mapped_column(String(255))
    stream: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: which claim holds the lease: a late answer to an older claim changes nothing
    lease_token: Mapped[str | None] = mapped_column(String(36), nullable=True)
    last_status: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
