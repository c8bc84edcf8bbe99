"""What the records announce, and in which transaction (SQLite and PostgreSQL): one
event per fact however often it is written, only events someone subscribed to, the
numbers as an integration token sees them, callbacks announced when done."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from callcenter.clock import SHANGHAI
from callcenter.privacy import Viewer, live_caller, record_caller
from callcenter.records.callback_tasks import NewCallbackTask, SqlCallbackTasks
from callcenter.tokens import Principal, Role
from callcenter.webhooks.models import WebhookDelivery, WebhookEvent
from tests.records.factory import DAY0, call
from tests.webhooks.harness import HandClock, instance, subscriptions

pytestmark = pytest.mark.db

INTEGRATION = Viewer.of(Principal(7, "platform", Role.INTEGRATION, None))


async def _events(sessions) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    async with sessions() as session:
        rows = await session.scalars(select(WebhookEvent).order_by(WebhookEvent.id))
        return [json.loads(row.payload) | {"stream": row.stream} for row in rows]


async def test_each_fact_once_and_only_for_subscribers(database_url: str) -> None:
    clock = HandClock()
    subs = subscriptions("http://127.0.0.1:9")
    node = await instance(database_url, subs[1:], clock)  # the archive: call.ended only
    try:
        await node.store.upsert([call("a.1"), call("a.2")])
        await node.store.upsert([call("a.1", rating=1)])  # written again: nothing new
        events = await _events(node.sessions)
        assert [(e["type"], e["data"]["id"]) for e in events] == [
            ("call.ended", "pbx1:a.1"),
            ("call.ended", "pbx1:a.2"),
        ]
        assert events[0]["created_at"] == "2026-12-01T09:00:00+08:00"  # city time
        async with node.sessions() as session:
            deliveries = list(await session.scalars(select(WebhookDelivery)))
        assert {d.subscription for d in deliveries} == {"archive"}
        assert len({d.delivery_id for d in deliveries}) == 2
    finally:
        await node.close()


async def test_numbers_as_an_integration_token_sees_them(database_url: str) -> None:
    node = await instance(database_url, subscriptions("http://127.0.0.1:9"), HandClock())
    try:
        timeline = [[0.0, "start", "12345"], [4.0, "queue_join", "hotline-general"]]
        await node.store.upsert(
            [
                call("open.1", caller="13912341111", timeline=timeline),
                call("secret.1", caller="13955556666", confidential=True, timeline=timeline),
            ]
        )
        events = {
            (e["type"], e["data"]["linkedid"]): e["data"] for e in await _events(node.sessions)
        }
        for linkedid, number, confidential in (
            ("open.1", "13912341111", False),
            ("secret.1", "13955556666", True),
        ):
            ended, offered = events[("call.ended", linkedid)], events[("call.offered", linkedid)]
            assert ended["caller"] == record_caller(number, confidential, INTEGRATION)
            assert offered["caller"] == live_caller(number, confidential, "", INTEGRATION)
            assert ended["confidential"] is confidential
            assert offered["offered_at"] == SHANGHAI.iso(DAY0 + 9 * 3600 + 4.0)
            assert ended["queue"] == offered["queue"] == "general"  # the directory's name
        assert events[("call.ended", "open.1")]["caller"] == "13912341111"
        assert events[("call.ended", "secret.1")]["caller"] == "139****6666"
        assert events[("call.offered", "open.1")]["caller"] == "139****1111"
    finally:
        await node.close()


async def test_a_call_never_offered_is_not_announced_as_offered(database_url: str) -> None:
    node = await instance(database_url, subscriptions("http://127.0.0.1:9"), HandClock())
    try:
        ivr_only = call(
            "ivr.1", queues=[], queue_exit="", agent="", seat="", disposition="ivr_only"
        )
        callback = call("cb.1", kind="callback", direction="outbound", callback_of="a.1")
        await node.store.upsert([ivr_only, callback])
        types = [(e["type"], e["data"]["linkedid"]) for e in await _events(node.sessions)]
        assert types == [("call.ended", "ivr.1"), ("call.ended", "cb.1")]
    finally:
        await node.close()


async def test_callback_done_is_announced_with_its_outcome(database_url: str) -> None:
    node = await instance(database_url, subscriptions("http://127.0.0.1:9"), HandClock())
    try:
        tasks = SqlCallbackTasks(node.sessions, node.announcer.callback_done)
        at = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
        ids = []
        for uniqueid in ("u.1", "u.2"):
            task_id = await tasks.add(
                NewCallbackTask(
                    uniqueid, "abandoned", "13900001111", "hotline-general", 40.0, 0, 3, at
                ),
                at,
            )
            assert task_id is not None and await tasks.claim(task_id, at)
            ids.append(task_id)
        await tasks.finish_attempt(
            ids[0], "reached", answered=True, seat_missed=False, retry_at=at, at=at
        )
        await tasks.finish_attempt(
            ids[1], "no answer", answered=False, seat_missed=False, retry_at=at, at=at
        )
        events = await _events(node.sessions)
        assert [(e["type"], e["stream"]) for e in events] == [
            ("callback.done", f"callback:{ids[0]}")
        ]
        data = events[0]["data"]
        assert data["caller"] == "139****1111" and data["outcome"] == "reached"
        assert data["call_uniqueid"] == "u.1" and data["done_at"] == "2026-12-01T10:00:00+08:00"
    finally:
        await node.close()
