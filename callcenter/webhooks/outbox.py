"""Announcing events: written in the caller's transaction, next to the fact they announce.

The domain that writes a fact (the records: a call record, a callback's outcome) calls
`Outbox.announce(session, events)` inside the transaction that writes it, so the event
exists if and only if the fact does: a crash between the two cannot lose one or invent
the other. Each event is stored once (its `dedupe_key` is unique; a fact written again
announces nothing new) with one pending delivery per subscription that wants its type.
Events with no subscriber are not stored at all.

An event's payload is what an integration token would read of the fact: the announcing
domain builds it with the same privacy rule (callcenter/privacy.py) its API applies.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.clock import utcnow
from callcenter.config import WebhookSubscription
from callcenter.webhooks.models import PENDING, WebhookDelivery, WebhookEvent

_EVENTS: Table = WebhookEvent.__table__  # type: ignore[assignment]
_DELIVERIES: Table = WebhookDelivery.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    event_type: str
    #: the call or callback it is about: events of one stream are delivered in order
    stream: str
    #: which fact it announces; the same key again is the same event (not stored twice)
    dedupe_key: str
    #: the body's `data`, as an integration token sees the fact
    data: dict[str, Any]


def body(event_id: str, event_type: str, created_at: str, data: dict[str, Any]) -> str:
    """The JSON every subscriber receives (and whose bytes are signed)."""
    document = {"id": event_id, "type": event_type, "created_at": created_at, "data": data}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


class Outbox:
    """The subscriptions as the announcing domains see them: who wants which event."""

    def __init__(
        self,
        subscriptions: Sequence[WebhookSubscription],
        show: Callable[[datetime], str],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """`show` writes `created_at` in the body (the city's ISO form, as the API)."""
        self.show = show
        self.clock = clock
        self._wanted: dict[str, list[str]] = {}
        for subscription in subscriptions:
            for event_type in dict.fromkeys(subscription.events):
                self._wanted.setdefault(event_type, []).append(subscription.key)
        self.announced = 0

    def wants(self, event_type: str) -> bool:
        """Whether any subscription takes `event_type` (else building it is wasted)."""
        return event_type in self._wanted

    async def announce(self, session: AsyncSession, events: Iterable[OutboxEvent]) -> int:
        """Store `events` in the session's transaction (the caller commits); how many
        were new."""
        wanted = [e for e in events if e.event_type in self._wanted]
        if not wanted:
            return 0
        now = self.clock()
        shown = self.show(now)
        unique = list({e.dedupe_key: e for e in wanted}.values())
        rows = [
            {
                "event_type": e.event_type,
                "stream": e.stream,
                "dedupe_key": e.dedupe_key,
                "payload": body(str(uuid.uuid4()), e.event_type, shown, e.data),
                "created_at": now,
            }
            for e in unique
        ]
        connection = await session.connection()
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        # in parameter order: ids grow in announcement order, which is delivery order
        statement = (
            insert(_EVENTS)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(_EVENTS.c.id, _EVENTS.c.dedupe_key, sort_by_parameter_order=True)
        )
        result = await connection.execute(statement, rows)
        stored = {key: event_id for event_id, key in result.all()}
        deliveries = [
            {
                "delivery_id": str(uuid.uuid4()),
                "event_id": stored[e.dedupe_key],
                "subscription": subscription,
                "stream": e.stream,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "window_start": now,
                "last_error": "",
                "created_at": now,
            }
            for e in unique
            if e.dedupe_key in stored
            for subscription in self._wanted[e.event_type]
        ]
        if deliveries:
            await connection.execute(_DELIVERIES.insert(), deliveries)
        self.announced += len(stored)
        return len(stored)
