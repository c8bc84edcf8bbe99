"""Retries over the hours (on a hand clock): a receiver down for an hour still gets
everything; one that never answers leaves the delivery failed after the window, listed
by `GET /webhooks/deliveries?status=failed` and sent again by the retry action."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.services import ApiServices
from callcenter.tokens import Principal, Role
from callcenter.webhooks.retry import RetryPolicy
from tests.api.static_tokens import StaticTokens
from tests.records.factory import call
from tests.webhooks.harness import HandClock, Instance, instance, pump, settled, subscriptions
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.db

ADMIN, PLATFORM, FLOOR = "cc_admin", "cc_platform", "cc_floor"
TOKENS = {
    ADMIN: Principal(1, "ops", Role.ADMIN, None),
    PLATFORM: Principal(2, "platform", Role.INTEGRATION, None),
    FLOOR: Principal(3, "floor", Role.SUPERVISOR, None),
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def api(node: Instance) -> AsyncIterator[httpx.AsyncClient]:
    services = ApiServices(tokens=StaticTokens(TOKENS), webhook_deliveries=node.deliveries)  # type: ignore[arg-type]
    app = create_app(services, CollectorRegistry(), "t")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


def test_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    policy = RetryPolicy(base_s=5, cap_s=1800, draw=lambda: 0.999999)
    assert [round(policy.delay_s(a)) for a in (1, 2, 3, 4, 12, 40)] == [5, 10, 20, 40, 1800, 1800]
    low = RetryPolicy(base_s=5, cap_s=1800, draw=lambda: 0.0)
    assert low.delay_s(3) == 10.0  # never less than half the step: no thundering herd


async def test_a_receiver_down_for_an_hour_gets_everything(database_url: str) -> None:
    clock = HandClock()
    receiver = Receiver()
    policy = RetryPolicy(draw=lambda: 0.5)  # the service's defaults: 5 s doubling to 30 min
    subs = subscriptions(receiver.url.rsplit("/", 1)[0])
    node = await instance(database_url, subs, clock, policy=policy)
    try:
        await node.store.upsert([call(f"h.{i}") for i in range(5)])
        started = clock.now
        while (clock.now - started).total_seconds() < 3600:
            await node.dispatcher.round()
            await node.dispatcher.drain()
            clock.advance(60)
        assert node.dispatcher.delivered == 0 and node.dispatcher.attempts_failed >= 5 * 8
        await receiver.start()
        await pump(node.dispatcher, clock, lambda: settled(node.deliveries), step_s=60)
        assert (await node.deliveries.counts())["failed"] == 0
        assert (
            len(receiver.unique()) == 5 * 3
        )  # offered + ended to the province, ended to the archive
    finally:
        await node.close()
        await receiver.stop()


async def test_failed_after_the_window_then_retried_by_hand(database_url: str) -> None:
    clock = HandClock()
    receiver = Receiver(lambda i, r: (500, 0.0))
    await receiver.start()
    subs = subscriptions(receiver.url.rsplit("/", 1)[0])[1:]  # the archive: call.ended only
    node = await instance(database_url, subs, clock, policy=RetryPolicy(5, 600, 3600, lambda: 0.0))
    try:
        await node.store.upsert([call("f.1"), call("f.2")])
        await pump(node.dispatcher, clock, lambda: settled(node.deliveries), step_s=300)
        assert (await node.deliveries.counts())["failed"] == 2
        assert node.dispatcher.given_up == 2
        async for client in api(node):
            page = await client.get(
                "/api/v1/webhooks/deliveries?status=failed&limit=1", headers=bearer(PLATFORM)
            )
            assert page.status_code == 200, page.text
            first = page.json()
            assert len(first["items"]) == 1 and first["next_cursor"]
            item = first["items"][0]
            assert item["status"] == "failed" and item["event_type"] == "call.ended"
            assert item["last_status"] == 500 and item["attempts"] > 3
            assert item["next_attempt_at"] is None and item["created_at"].endswith("+08:00")
            rest = await client.get(
                f"/api/v1/webhooks/deliveries?status=failed&cursor={first['next_cursor']}",
                headers=bearer(PLATFORM),
            )
            assert [d["id"] for d in rest.json()["items"]] == [item["id"] - 1]
            assert rest.json()["next_cursor"] is None

            refused = await client.post(
                f"/api/v1/webhooks/deliveries/{item['id']}/retry", headers=bearer(PLATFORM)
            )
            assert refused.status_code == 403
            assert (
                await client.get("/api/v1/webhooks/deliveries", headers=bearer(FLOOR))
            ).status_code == 403

            receiver.behaviour = lambda i, r: (200, 0.0)
            retried = await client.post(
                f"/api/v1/webhooks/deliveries/{item['id']}/retry", headers=bearer(ADMIN)
            )
            assert retried.status_code == 200, retried.text
            assert retried.json()["status"] == "pending"
            again = await client.post(
                f"/api/v1/webhooks/deliveries/{item['id']}/retry", headers=bearer(ADMIN)
            )
            assert again.status_code == 409
            assert again.headers["content-type"].startswith("application/problem+json")
            assert "pending" in again.json()["detail"]
            missing = await client.post(
                "/api/v1/webhooks/deliveries/999999/retry", headers=bearer(ADMIN)
            )
            assert missing.status_code == 404

            await pump(node.dispatcher, clock, lambda: settled(node.deliveries))
            delivered = await client.get(
                "/api/v1/webhooks/deliveries?status=delivered", headers=bearer(PLATFORM)
            )
            assert [d["id"] for d in delivered.json()["items"]] == [item["id"]]
            bad = await client.get(
                "/api/v1/webhooks/deliveries?status=lost", headers=bearer(PLATFORM)
            )
            assert bad.status_code == 422
        # the same delivery id on every attempt, the one the receiver finally accepted
        ids = {r.delivery for r in receiver.requests if r.document["data"]["id"] == "pbx1:f.2"}
        assert len(ids) == 1 and receiver.unique().keys() == ids
    finally:
        await node.close()
        await receiver.stop()
