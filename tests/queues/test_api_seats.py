"""/api/v1/seats over pbxsim: who may do what, a seat's calls from its call records,
and PBX failures as clear errors."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.services import ApiServices
from callcenter.db import session_factory
from callcenter.records.store import RecordStore
from callcenter.tokens import Role, TokenStore
from queues.catalog import demo_skills
from tests.queues.sim import open_floor, wait_until
from tests.records.factory import call


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_access_control_and_errors(database_url: str) -> None:
    floor = await open_floor(database_url, 3, demo_skills)
    tokens = TokenStore(session_factory(floor.engine), lambda: datetime.now(UTC))
    app = create_app(
        ApiServices.from_systems(tokens=tokens, live=floor.live, seats=floor.seats),
        CollectorRegistry(),
        "t",
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")

    async def bearer(role: Role, seat: str | None = None) -> dict[str, str]:
        _, token = await tokens.create(role.value, role, seat)
        return {"Authorization": f"Bearer {token}"}

    agent, sup, integ = (
        await bearer(Role.AGENT, "1001"),
        await bearer(Role.SUPERVISOR),
        await bearer(Role.INTEGRATION),
    )
    try:
        assert (await client.get("/api/v1/seats")).status_code == 401
        seats = (await client.get("/api/v1/seats", headers=sup)).json()["items"]
        assert [s["id"] for s in seats] == ["1001", "1002", "1003"]
        # integration tokens read every seat, as they read every seat's stats
        listed = (await client.get("/api/v1/seats", headers=integ)).json()["items"]
        assert [s["id"] for s in listed] == ["1001", "1002", "1003"]
        stats = await client.get("/api/v1/seats/1002/stats", headers=integ)
        assert stats.status_code == 200
        # an agent sees its own seat, in the list and alone
        mine = (await client.get("/api/v1/seats", headers=agent)).json()
        assert [s["id"] for s in mine["items"]] == ["1001"] and mine["next_cursor"] is None
        assert (await client.get("/api/v1/seats/1001", headers=agent)).status_code == 200
        r = await client.get("/api/v1/seats/1002", headers=agent)
        assert r.status_code == 403 and "own seat" in r.json()["detail"]
        assert (await client.get("/api/v1/seats/1002", headers=integ)).json()["id"] == "1002"
        # pages of two, by extension
        first = (await client.get("/api/v1/seats?limit=2", headers=sup)).json()
        assert [s["id"] for s in first["items"]] == ["1001", "1002"]
        rest = await client.get(
            "/api/v1/seats", params={"limit": 2, "cursor": first["next_cursor"]}, headers=sup
        )
        assert [s["id"] for s in rest.json()["items"]] == ["1003"]
        assert rest.json()["next_cursor"] is None
        assert {s["state"] for s in seats} == {"offline"} and not seats[0]["logged_in"]
        # offline since provisioning, in city time with its offset
        assert datetime.fromisoformat(seats[0]["state_since"]).utcoffset() == timedelta(hours=8)

        assert (await client.post("/api/v1/seats/1001/login")).status_code == 401
        r = await client.post("/api/v1/seats/1001/login", headers=integ)
        assert r.status_code == 403 and "integration" in r.json()["detail"]
        r = await client.post("/api/v1/seats/1002/login", headers=agent)
        assert r.status_code == 403 and "own seat" in r.json()["detail"]
        r = await client.post("/api/v1/seats/1002/login", headers=sup)
        assert r.status_code == 403  # a supervisor does not log in someone absent

        r = await client.post("/api/v1/seats/1001/login", headers=agent)
        assert r.status_code == 200 and r.json()["logged_in"]
        await wait_until(lambda: "PJSIP/1001" in floor.sim.members("hotline-general"))
        r = await client.post("/api/v1/seats/1001/pause", headers=agent, json={"reason": "nap"})
        assert r.status_code == 422 and "break" in r.json()["detail"]
        r = await client.post("/api/v1/seats/1001/pause", headers=sup, json={"reason": "meeting"})
        assert r.status_code == 200 and r.json()["pause_reason_db"] == "meeting"
        await wait_until(lambda: floor.sim.member("hotline-general", "PJSIP/1001").paused)
        seat = (await client.get("/api/v1/seats/1001", headers=sup)).json()
        assert seat["state"] == "paused" and seat["state_reason"] == "meeting"
        assert seat["state_since"].endswith("+08:00") and seat["skills"] == demo_skills(0)
        since = datetime.fromisoformat(seat["state_since"])
        assert abs(since.timestamp() - time.time()) < 60
        r = await client.get("/api/v1/seats/1001/stats", headers=agent)
        assert r.status_code == 200 and r.json()["login_s"] >= 0
        assert (r.json()["calls"], r.json()["talk_s"]) == (0, 0.0)
        # a call the seat answered, its record written by another instance
        await RecordStore(session_factory(floor.engine)).upsert(
            [call("7.1", seat="1001", talk_s=75.0, started_at=time.time() - 200)]
        )
        r = await client.get("/api/v1/seats/1001/stats", headers=agent)
        assert (r.json()["calls"], r.json()["talk_s"]) == (1, 75.0)
        assert (await client.get("/api/v1/seats/1002/stats", headers=agent)).status_code == 403
        r = await client.post("/api/v1/seats/1001/logout", headers=sup)
        assert r.status_code == 200 and not r.json()["logged_in"]
        assert (await client.get("/api/v1/seats/9999", headers=sup)).status_code == 404

        # Asterisk refuses: the database says logged in, the PBX has no such member
        await floor.seats.repo.mark("1002", True, None)
        admin = await bearer(Role.ADMIN)
        r = await client.post("/api/v1/seats/1002/pause", headers=admin, json={"reason": "break"})
        assert r.status_code == 502 and "pbx1: QueuePause failed" in r.json()["detail"]
        # the PBX link is down
        await floor.node.stop()
        r = await client.post("/api/v1/seats/1003/login", headers=admin)
        assert r.status_code == 503 and "pbx1 is not connected" in r.json()["detail"]
    finally:
        await client.aclose()
        await floor.close()
