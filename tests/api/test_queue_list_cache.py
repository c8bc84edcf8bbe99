"""GET /api/v1/queues reuses its bytes only while nothing changed (same hub seq, same
tenth of a second): a change is visible on the very next request."""

from __future__ import annotations

import httpx
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.services import ApiServices
from callcenter.live.changes import CallerJoined
from callcenter.live.live_state import LiveState
from callcenter.live.node_state import Queue, WaitingCaller
from tests.api.static_tokens import AS_SUPERVISOR, StaticTokens


async def test_a_change_is_never_hidden_by_the_cache() -> None:
    now = [1_000.0]
    live = LiveState(lambda: now[0])
    state = live.node_state("pbx1")
    queue = state.queues["hotline-general"] = Queue("hotline-general", strategy="rrmemory")
    app = create_app(ApiServices(tokens=StaticTokens(), live=live), CollectorRegistry(), "t")  # type: ignore[arg-type]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t", headers=AS_SUPERVISOR
    ) as client:

        async def waiting() -> tuple[int, float]:
            general = (await client.get("/api/v1/queues")).json()[0]
            return general["waiting"], general["longest_wait_s"]

        assert await waiting() == (0, 0.0)
        queue.entries["1.1"] = WaitingCaller(
            "hotline-general", "1.1", "PJSIP/t-1", 1, 990.0, 0, "139"
        )
        assert await waiting() == (0, 0.0)  # unannounced, same instant: the cached bytes
        live.hub.publish(
            CallerJoined,
            "pbx1",
            now[0],
            uniqueid="1.1",
            queue="hotline-general",
            position=1,
            priority=0,
            linkedid="1.1",
            caller="139",
        )
        assert await waiting() == (1, 10.0)  # announced: recomputed at once
        now[0] += 0.05
        assert await waiting() == (1, 10.0)  # same tenth of a second
        now[0] = 1_000.2
        assert await waiting() == (1, 10.2)  # a new tenth: the wait moves on
