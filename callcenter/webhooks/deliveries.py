"""The deliveries table's moves, for the dispatcher and the API.

    pending -(claimed: a lease)-> delivered | pending (retry later) | failed
    failed -(a manual retry)-> pending

A pending delivery may be claimed when it is due, not leased (or its lease lapsed), and
no earlier event of its stream is still pending for its subscription: the head of the
stream. So a call's events go out one after the other, while many calls go out side by
side. Claiming is one UPDATE over a sub-select: on PostgreSQL the sub-select locks its
rows `FOR UPDATE SKIP LOCKED`, so instances sharing the database claim different rows
without waiting for each other; on SQLite the statement runs under the database's
single writer lock. A claim's lease outlives the request's timeout; if the instance dies
mid-request the lease lapses and another instance (or the restarted one) sends again,
which is why delivery is at least once and receivers dedupe on `X-Hotline-Delivery`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, Update, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from callcenter.clock import as_utc, utcnow
from callcenter.webhooks.models import (
    DELIVERED,
    FAILED,
    PENDING,
    STATUSES,
    WebhookDelivery,
    WebhookEvent,
)
from callcenter.webhooks.retry import RetryPolicy


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery this instance holds the lease of, with what to send."""

    id: int
    delivery_id: str
    subscription: str
    stream: str
    event_type: str
    payload: str
    #: attempts before this one
    attempts: int
    window_start: datetime
    lease_token: str


@dataclass(frozen=True, slots=True)
class Outcome:
    claim: Claimed
    ok: bool
    #: the receiver's HTTP status; None: no answer (refused, timed out)
    status: int | None
    error: str
    at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryFact:
    id: int
    delivery_id: str
    subscription: str
    event_id: int
    event_type: str
    stream: str
    status: str
    attempts: int
    next_attempt_at: datetime | None  # None unless pending
    last_status: int | None
    last_error: str
    delivered_at: datetime | None
    created_at: datetime


_TABLE: Table = WebhookDelivery.__table__  # type: ignore[assignment]


class NotFailed(ValueError):
    """A retry of a delivery that is not failed."""


class SqlDeliveries:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """`clock`: when a manual retry is due (the dispatcher's clock)."""
        self.sessions = sessions
        self.clock = clock

    async def claim(
        self, subscriptions: Collection[str], now: datetime, limit: int, lease_s: float
    ) -> list[Claimed]:
        """Lease up to `limit` due stream heads of `subscriptions`, oldest due first."""
        if limit <= 0 or not subscriptions:
            return []
        head, earlier = aliased(WebhookDelivery), aliased(WebhookDelivery)
        waits_for_earlier = exists().where(
            earlier.subscription == head.subscription,
            earlier.stream == head.stream,
            earlier.status == PENDING,
            earlier.event_id < head.event_id,
        )
        due = (
            select(head.id)
            .where(
                head.status == PENDING,
                head.next_attempt_at <= now,
                or_(head.lease_until.is_(None), head.lease_until < now),
                head.subscription.in_(list(subscriptions)),
                ~waits_for_earlier,
            )
            .order_by(head.next_attempt_at, head.id)
            .limit(limit)
            .with_for_update(of=head, skip_locked=True)
        )
        token = str(uuid.uuid4())
        d = WebhookDelivery
        claim = (
            update(d)
            .where(d.id.in_(due))
            .values(lease_until=now + timedelta(seconds=lease_s), lease_token=token)
            .returning(
                d.id,
                d.delivery_id,
                d.subscription,
                d.stream,
                d.event_id,
                d.attempts,
                d.window_start,
            )
            .execution_options(synchronize_session=False)
        )
        async with self.sessions.begin() as session:
            leased = (await session.execute(claim)).all()
            if not leased:
                return []
            events = {
                row.id: row
                for row in await session.execute(
                    select(WebhookEvent.id, WebhookEvent.event_type, WebhookEvent.payload).where(
                        WebhookEvent.id.in_({row.event_id for row in leased})
                    )
                )
            }
        return sorted(
            (
                Claimed(
                    row.id,
                    row.delivery_id,
                    row.subscription,
                    row.stream,
                    events[row.event_id].event_type,
                    events[row.event_id].payload,
                    row.attempts,
                    as_utc(row.window_start),
                    token,
                )
                for row in leased
            ),
            key=lambda c: c.id,
        )

    async def finish(self, outcomes: Sequence[Outcome], policy: RetryPolicy) -> int:
        """Write what came of each attempt (one transaction); how many failed for good.
        A delivery that was answered is delivered whoever's lease it is under; a failure
        reschedules it only under the lease it was sent with (a lapsed claim whose
        delivery was taken over changes nothing)."""
        d = _TABLE.c
        given_up = 0
        answered: dict[int | None, list[Outcome]] = {}
        for outcome in outcomes:
            if outcome.ok:
                answered.setdefault(outcome.status, []).append(outcome)
        async with self.sessions.begin() as session:
            connection = await session.connection()  # Core statements: no ORM work per row
            for status, group in answered.items():
                await connection.execute(
                    update(_TABLE)
                    .where(d.id.in_([o.claim.id for o in group]), d.status == PENDING)
                    .values(
                        status=DELIVERED,
                        delivered_at=max(o.at for o in group),
                        attempts=d.attempts + 1,
                        last_status=status,
                        last_error="",
                        lease_until=None,
                        lease_token=None,
                    )
                )
            for outcome in outcomes:
                if outcome.ok:
                    continue
                claim = outcome.claim
                attempts = claim.attempts + 1
                retry_at = policy.next_attempt(claim.window_start, attempts, outcome.at)
                given_up += retry_at is None
                if retry_at is not None:
                    await connection.execute(_behind(claim, retry_at))
                await connection.execute(
                    update(_TABLE)
                    .where(d.id == claim.id, d.lease_token == claim.lease_token)
                    .values(
                        status=FAILED if retry_at is None else PENDING,
                        next_attempt_at=retry_at or outcome.at,
                        attempts=attempts,
                        last_status=outcome.status,
                        last_error=outcome.error[:500],
                        lease_until=None,
                        lease_token=None,
                    )
                )
        return given_up

    async def release(self, claims: Sequence[Claimed]) -> None:
        """Give back the leases of claims that were not sent to the end (a stop)."""
        if not claims:
            return
        d = _TABLE.c
        async with self.sessions.begin() as session:
            connection = await session.connection()
            for claim in claims:
                await connection.execute(
                    update(_TABLE)
                    .where(d.id == claim.id, d.lease_token == claim.lease_token)
                    .values(lease_until=None, lease_token=None)
                )

    async def page(
        self, status: str | None, before_id: int | None, limit: int
    ) -> list[DeliveryFact]:
        """Deliveries newest first; `before_id` the last id of the previous page."""
        d, e = WebhookDelivery, WebhookEvent
        query = (
            select(d, e.event_type).join(e, e.id == d.event_id).order_by(d.id.desc()).limit(limit)
        )
        if status is not None:
            query = query.where(d.status == status)
        if before_id is not None:
            query = query.where(d.id < before_id)
        async with self.sessions() as session:
            return [_fact(row, event_type) for row, event_type in await session.execute(query)]

    async def retry(self, delivery_id: int) -> DeliveryFact:
        """failed -> pending, due now, with a fresh window of retries. KeyError: no such
        delivery; NotFailed: it is not failed."""
        d, now = WebhookDelivery, self.clock()
        async with self.sessions.begin() as session:
            moved = await session.execute(
                update(d)
                .where(d.id == delivery_id, d.status == FAILED)
                .values(status=PENDING, next_attempt_at=now, window_start=now)
                .execution_options(synchronize_session=False)
            )
            found = await session.execute(
                select(d, WebhookEvent.event_type)
                .join(WebhookEvent, WebhookEvent.id == d.event_id)
                .where(d.id == delivery_id)
            )
            row = found.first()
            if row is None:
                raise KeyError(delivery_id)
            if not getattr(moved, "rowcount", 0):
                raise NotFailed(f"delivery {delivery_id} is {row[0].status}; only failed ones")
            return _fact(row[0], row[1])

    async def counts(self) -> dict[str, int]:
        """Deliveries per status (every status, zeros included)."""
        d = WebhookDelivery
        async with self.sessions() as session:
            rows = await session.execute(select(d.status, func.count()).group_by(d.status))
            found = {status: int(n) for status, n in rows}
        return {status: found.get(status, 0) for status in STATUSES}


def _behind(claim: Claimed, retry_at: datetime) -> Update:
    """The deliveries of the stream behind a head that failed wait as long as it does: a
    receiver that is down leaves no backlog of due deliveries that cannot be sent,
    which every claim would otherwise have to look through."""
    d = _TABLE.c
    return (
        update(_TABLE)
        .where(
            d.subscription == claim.subscription,
            d.stream == claim.stream,
            d.status == PENDING,
            d.id != claim.id,
            d.next_attempt_at < retry_at,
        )
        .values(next_attempt_at=retry_at)
    )


def _fact(row: WebhookDelivery, event_type: str) -> DeliveryFact:
    def utc(value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)

    return DeliveryFact(
        id=row.id,
        delivery_id=row.delivery_id,
        subscription=row.subscription,
        event_id=row.event_id,
        event_type=event_type,
        stream=row.stream,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=utc(row.next_attempt_at) if row.status == PENDING else None,
        last_status=row.last_status,
        last_error=row.last_error,
        delivered_at=utc(row.delivered_at),
        created_at=as_utc(row.created_at),
    )
