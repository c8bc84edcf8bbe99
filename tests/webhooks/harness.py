"""What the webhook tests share: a clock they move by hand, the outbox and dispatcher
over one database, and a loop that runs the dispatcher round by round."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from callcenter import migrate
from callcenter.clock import SHANGHAI
from callcenter.config import WebhookSubscription
from callcenter.db import create_engine, session_factory
from callcenter.records.announce import Announcer
from callcenter.records.store import RecordStore
from callcenter.webhooks.deliveries import SqlDeliveries
from callcenter.webhooks.dispatcher import Dispatcher, HttpSender
from callcenter.webhooks.outbox import Outbox
from callcenter.webhooks.retry import RetryPolicy

SECRETS = {"province": "province-secret-0123456789", "archive": "archive-secret-0123456789"}
EVERY_EVENT = ["call.offered", "call.ended", "callback.done"]


@dataclass
class HandClock:
    now: datetime = field(default_factory=lambda: datetime(2026, 12, 1, 1, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def subscriptions(url: str) -> list[WebhookSubscription]:
    """`province` takes every event, `archive` only the records (`call.ended`)."""
    return [
        WebhookSubscription(
            name="province",
            url=f"{url}/province",
            secret=SecretStr(SECRETS["province"]),
            events=EVERY_EVENT,
        ),
        WebhookSubscription(
            name="archive",
            url=f"{url}/archive",
            secret=SecretStr(SECRETS["archive"]),
            events=["call.ended"],
        ),
    ]


#: retries every 0.5, 1, 2, ... seconds of the hand clock, at most 60 s apart
FAST = RetryPolicy(base_s=1.0, cap_s=60.0, draw=lambda: 0.0)


@dataclass
class Instance:
    """One service instance's part in webhooks: its engine, outbox and dispatcher."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    outbox: Outbox
    announcer: Announcer
    store: RecordStore
    deliveries: SqlDeliveries
    dispatcher: Dispatcher

    async def close(self) -> None:
        await self.dispatcher.sender.close()
        await self.engine.dispose()


async def instance(
    database_url: str,
    subs: Sequence[WebhookSubscription],
    clock: HandClock,
    *,
    policy: RetryPolicy = FAST,
    timeout_s: float = 2.0,
    concurrency: int = 8,
) -> Instance:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    outbox = Outbox(subs, SHANGHAI.iso, clock)
    announcer = Announcer(outbox, SHANGHAI)
    deliveries = SqlDeliveries(sessions, clock)
    dispatcher = Dispatcher(
        deliveries,
        subs,
        HttpSender(timeout_s, concurrency),
        policy=policy,
        clock=clock,
        concurrency=concurrency,
        timeout_s=timeout_s,
    )
    store = RecordStore(sessions, written=announcer.records_written)
    return Instance(engine, sessions, outbox, announcer, store, deliveries, dispatcher)


async def pump(
    dispatcher: Dispatcher,
    clock: HandClock,
    until: Callable[[], object],
    *,
    step_s: float = 61.0,
    rounds: int = 400,
) -> None:
    """Round after round (each attempt answered before the next round), the clock moved
    on by `step_s` whenever nothing was due, until `until()` holds."""
    for _ in range(rounds):
        started = await dispatcher.round()
        await dispatcher.drain()
        if await _holds(until):
            return
        if not started:
            clock.advance(step_s)
    raise AssertionError(f"not done after {rounds} rounds")


async def _holds(until: Callable[[], object]) -> bool:
    value = until()
    if hasattr(value, "__await__"):
        value = await value
    return bool(value)


async def settled(deliveries: SqlDeliveries) -> bool:
    """No delivery is pending any more."""
    return (await deliveries.counts())["pending"] == 0
