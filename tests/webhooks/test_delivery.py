"""Webhooks end to end, on SQLite and PostgreSQL: call records written through the store
announce their events; a local receiver that is down, then slow and answering 500s,
gets every event exactly once after dedupe on X-Hotline-Delivery, signed, in order per
call, across a restart of the service in the middle of the retries."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest

from callcenter.webhooks.models import FAILED, PENDING
from tests.records.factory import call
from tests.webhooks.harness import SECRETS, HandClock, instance, pump, settled, subscriptions
from tests.webhooks.receiver import Received, Receiver

pytestmark = pytest.mark.db


def _calls(n: int) -> list:  # type: ignore[type-arg]
    """Answered calls (offered and ended) and IVR-only ones (ended, never offered)."""
    made = []
    for i in range(n):
        if i % 4 == 3:
            made.append(
                call(
                    f"c.{i}",
                    queues=[],
                    queue_exit="",
                    wait_s=None,
                    agent="",
                    seat="",
                    disposition="ivr_only",
                )
            )
        else:
            made.append(
                call(f"c.{i}", timeline=[[0.0, "start", "12345"], [3.5, "queue_join", "q"]])
            )
    return made


def _expected(n: int) -> dict[str, set[tuple[str, str]]]:
    """subscription -> {(stream, event type)} it must receive."""
    wanted: dict[str, set[tuple[str, str]]] = {"province": set(), "archive": set()}
    for i in range(n):
        stream = f"call:pbx1:c.{i}"
        if i % 4 != 3:
            wanted["province"].add((stream, "call.offered"))
        wanted["province"].add((stream, "call.ended"))
        wanted["archive"].add((stream, "call.ended"))
    return wanted


def _check(receiver: Receiver, n: int) -> None:
    """Exactly once after dedupe, signed, its header naming its event, in call order."""
    by_subscription: dict[str, list[Received]] = defaultdict(list)
    for request in receiver.unique().values():
        by_subscription[request.path.rsplit("/", 1)[1]].append(request)
    expected = _expected(n)
    for name, requests in by_subscription.items():
        got = [(r.document["data"]["id"], r.document["type"]) for r in requests]
        assert len(got) == len(set(got)), f"{name}: an event delivered under two ids"
        assert {(f"call:{i}", t) for i, t in got} == expected[name]
        for request in requests:
            assert request.signed_with(SECRETS[name])
            assert request.headers["x-hotline-event"] == request.document["type"]
    for request in receiver.requests:  # retries too: the same bytes, the same signature
        assert request.signed_with(SECRETS[request.path.rsplit("/", 1)[1]])
    firsts: dict[tuple[str, str], list[str]] = defaultdict(list)
    for request in receiver.unique().values():  # in the order they first arrived
        key = (request.path, request.document["data"]["id"])
        firsts[key].append(request.document["type"])
    for (path, _), types in firsts.items():
        if path.endswith("province") and "call.offered" in types:
            assert types == ["call.offered", "call.ended"], types


async def test_down_slow_500s_and_a_restart_lose_nothing(database_url: str) -> None:
    clock = HandClock()
    receiver = Receiver()
    subs = subscriptions(receiver.url.rsplit("/", 1)[0])
    first = await instance(database_url, subs, clock, timeout_s=0.3)
    n = 24
    calls = _calls(n)
    for chunk in (calls[:10], calls[10:]):
        await first.store.upsert(chunk)
    await first.store.upsert(calls[:5])  # a replayed spool file announces nothing new
    counts = await first.deliveries.counts()
    assert counts[PENDING] == sum(len(v) for v in _expected(n).values())

    # the receiver is down: every attempt is refused, and retried later
    for _ in range(3):
        await first.dispatcher.round()
        await first.dispatcher.drain()
        clock.advance(61)
    assert first.dispatcher.attempts_failed > 0 and first.dispatcher.delivered == 0

    # the receiver comes back slow and flaky; the instance dies with POSTs in flight
    def flaky(index: int, request: Received) -> tuple[int, float]:
        if index % 3 == 1:
            return 500, 0.0
        if index % 7 == 2:
            return 204, 0.6  # answered after the client's timeout: sent again later
        return 204, 0.02 if index % 5 == 0 else 0.0

    receiver.behaviour = flaky
    await receiver.start()
    try:
        await first.dispatcher.round()
        await asyncio.sleep(0.05)
        for task in list(first.dispatcher._in_flight):  # killed: no outcome written
            task.cancel()
        await asyncio.gather(*first.dispatcher._in_flight, return_exceptions=True)
        await first.close()

        # a new service on the same database: the leases of the dead one lapse
        second = await instance(database_url, subs, clock, timeout_s=0.3)
        try:
            await pump(second.dispatcher, clock, lambda: settled(second.deliveries))
            counts = await second.deliveries.counts()
            assert counts[FAILED] == 0
            _check(receiver, n)
            assert len(receiver.requests) > len(receiver.unique())  # it did retry
        finally:
            await second.close()
    finally:
        await receiver.stop()


async def test_two_instances_share_the_work_without_sending_twice(database_url: str) -> None:
    clock = HandClock()
    receiver = Receiver(lambda i, r: (204, 0.01 if i % 2 else 0.0))
    await receiver.start()
    subs = subscriptions(receiver.url.rsplit("/", 1)[0])
    a = await instance(database_url, subs, clock)
    b = await instance(database_url, subs, clock)
    try:
        n = 40
        calls = _calls(n)
        await a.store.upsert(calls[: n // 2])
        await b.store.upsert(calls[n // 2 :])
        # the clock moves less than a lease while the other instance has POSTs in flight
        await asyncio.gather(
            pump(a.dispatcher, clock, lambda: settled(a.deliveries), step_s=1),
            pump(b.dispatcher, clock, lambda: settled(b.deliveries), step_s=1),
        )
        assert len(receiver.requests) == len(receiver.unique())  # no lease was shared
        assert a.dispatcher.delivered > 0 and b.dispatcher.delivered > 0
        _check(receiver, n)
    finally:
        await a.close()
        await b.close()
        await receiver.stop()


async def test_a_clean_stop_gives_its_claims_back(database_url: str) -> None:
    clock = HandClock()
    receiver = Receiver(lambda i, r: (204, 2.0))  # slow: the stop comes mid-POST
    await receiver.start()
    subs = subscriptions(receiver.url.rsplit("/", 1)[0])
    first = await instance(database_url, subs, clock)
    try:
        await first.store.upsert(_calls(3))
        running = asyncio.create_task(first.dispatcher.run())
        while not receiver.requests:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        assert first.dispatcher.delivered == 0
    finally:
        await first.close()
    receiver.behaviour = lambda i, r: (204, 0.0)
    second = await instance(database_url, subs, clock)
    try:
        assert await second.dispatcher.round() > 0  # at once: no lease to wait out
        await pump(second.dispatcher, clock, lambda: settled(second.deliveries))
        _check(receiver, 3)
    finally:
        await second.close()
        await receiver.stop()
