"""GET /api/v1/queues and /api/v1/seats on a live model fed by pbxsim."""

from __future__ import annotations

import asyncio

import httpx
from prometheus_client import CollectorRegistry

from ami.node import PbxNode
from api.app import create_app
from api.services import ApiServices
from callcenter.live.live_state import LiveState
from tests.api.static_tokens import AS_SUPERVISOR, StaticTokens
from tests.live.sim import start_sim
from tests.live.test_faults import add_members, call, wait_until


async def test_queues_and_seats_show_the_pbx() -> None:
    sim = await start_sim(speed=20.0)
    live = LiveState(sim.scheduler.now)
    node = PbxNode(sim.node_config(), live)
    node.start()
    app = create_app(ApiServices(tokens=StaticTokens(), live=live), CollectorRegistry(), "test")  # type: ignore[arg-type]
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t", headers=AS_SUPERVISOR
    )
    try:
        await asyncio.wait_for(live.synced.wait(), 10)
        await add_members(node, ["1001", "9001"])
        await node.send(
            {
                "Action": "QueuePause",
                "Interface": "Local/9001@sim-agent/n",
                "Paused": "true",
                "Reason": "meal",
            }
        )
        await node.send(
            {
                "Action": "QueuePause",
                "Interface": "Local/1001@sim-agent/n",
                "Paused": "true",
                "Reason": "break",
            }
        )
        for n in range(2):
            await call(node, n)
        await wait_until(lambda: len(live.nodes["pbx1"].queues["hotline-general"].entries) == 2, 5)
        queues = (await client.get("/api/v1/queues")).json()
        general = next(q for q in queues if q["name"] == "general")
        assert general["asterisk"] == "hotline-general"
        assert general["display"] == {"zh": "综合", "en": "General"}
        assert general["waiting"] == 2 and general["paused"] == 2 and not general["stale"]
        assert [c["position"] for c in general["callers"]] == [1, 2]
        assert general["callers"][0]["caller"] == "139****0000"  # masked
        seats = (await client.get("/api/v1/seats")).json()["items"]
        by_name = {s["name"]: s for s in seats}
        assert by_name["seat-9001"]["state"] == "paused"
        assert by_name["seat-9001"]["paused_reason"] == "meal"
        membership = by_name["seat-9001"]["queues"][0]
        assert (membership["queue"], membership["asterisk"]) == ("general", "hotline-general")
        assert membership["display"] == {"zh": "综合", "en": "General"}
        assert (await client.get("/api/v1/queues?node=nope")).status_code == 404
    finally:
        await client.aclose()
        await node.stop()
        await sim.stop()


async def test_without_a_pbx_link_the_endpoints_say_so() -> None:
    app = create_app(ApiServices(tokens=StaticTokens()), CollectorRegistry(), "test")  # type: ignore[arg-type]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t", headers=AS_SUPERVISOR
    ) as client:
        r = await client.get("/api/v1/queues")
        assert r.status_code == 503 and "no PBX link" in r.json()["detail"]


async def test_queue_counters_are_refreshed_by_polling() -> None:
    from callcenter.live.queue_params import refresh_queue_params

    sim = await start_sim(speed=40.0)
    live = LiveState(sim.scheduler.now)
    node = PbxNode(sim.node_config(), live)
    node.start()
    try:
        await asyncio.wait_for(live.synced.wait(), 10)
        await add_members(node, ["1001"])
        await call(node, 1)
        general = live.nodes["pbx1"].queues["hotline-general"]
        await wait_until(lambda: general.members["Local/1001@sim-agent/n"].calls_taken == 1, 10)
        assert general.completed == 0  # app_queue announced nothing
        assert await refresh_queue_params(live, "pbx1") >= 4
        general = live.nodes["pbx1"].queues["hotline-general"]
        assert general.completed == 1
        assert general.members  # members untouched by a params-only refresh
    finally:
        await node.stop()
        await sim.stop()
