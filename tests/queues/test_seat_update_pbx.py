"""`PATCH /api/v1/seats/{id}` over pbxsim: admin only, a strict body checked as
provisioning checks it, and for a logged-in seat the change made in Asterisk (queues
joined and left, penalties, a new interface with the pause kept); when Asterisk
refuses, what was done is undone and the seat row is left as it was."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.services import ApiServices
from callcenter.db import session_factory
from callcenter.tokens import Role, TokenStore
from tests.queues.sim import open_floor, wait_until


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_patch_a_seat(database_url: str) -> None:
    floor = await open_floor(database_url, 3, lambda _i: {"general": 3, "housing": 4})
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

    admin, sup, agent = (
        await bearer(Role.ADMIN),
        await bearer(Role.SUPERVISOR),
        await bearer(Role.AGENT, "1001"),
    )
    sim = floor.sim

    async def patch(seat: str, body: object, headers: dict[str, str] = admin) -> httpx.Response:
        return await client.patch(f"/api/v1/seats/{seat}", json=body, headers=headers)

    try:
        # who may: admin only
        for headers in (sup, agent):
            r = await patch("1001", {"skills": {"general": 5}}, headers)
            assert r.status_code == 403, r.text
        # a strict body, checked as provisioning checks it
        for body, words in (
            ({"skills": {"general": 3}, "colour": "red"}, "colour"),
            ({"skills": {"cooking": 3}}, "unknown queue 'cooking'"),
            ({"skills": {"general": 6}}, "less than or equal to 5"),
            ({"skills": {}}, "at least one skill"),
            ({"interface": "PJSIP/10 01"}, "not a dial interface"),
            ({"node": "pbx9"}, "configured nodes are ['pbx1']"),
            ({}, "nothing to change"),
        ):
            r = await patch("1001", body)
            assert r.status_code == 422 and words in r.text, (body, r.text)
        assert (await patch("9999", {"skills": {"general": 3}})).status_code == 404
        r = await patch("1001", {"interface": "PJSIP/1002"})
        assert r.status_code == 409 and "belongs to seat 1002" in r.text

        # a logged-out seat: only its row changes
        r = await patch("1003", {"skills": {"general": 2}})
        assert r.status_code == 200 and r.json()["skills"] == {"general": 2}
        assert "PJSIP/1003" not in sim.members("hotline-general")

        # a logged-in seat: queues joined and left, penalties changed, at once
        await floor.seats.service.login("1001")
        await floor.seats.service.pause("1001", "meal")
        r = await patch("1001", {"skills": {"general": 5, "health": 2}})
        assert r.status_code == 200, r.text
        assert r.json()["skills"] == {"general": 5, "health": 2}
        assert "PJSIP/1001" not in sim.members("hotline-housing")
        assert sim.member("hotline-general", "PJSIP/1001").penalty == 0
        health = sim.member("hotline-health", "PJSIP/1001")
        assert (health.penalty, health.paused, health.reason_paused) == (3, True, "meal")
        await wait_until(
            lambda: "PJSIP/1001" in floor.live.nodes["pbx1"].queues["hotline-health"].members
        )

        # a new interface: every membership moves, the pause with it
        r = await patch("1001", {"interface": "Local/1001@agents/n"})
        assert r.status_code == 200, r.text
        for queue in ("hotline-general", "hotline-health"):
            assert "PJSIP/1001" not in sim.members(queue)
            moved = sim.member(queue, "Local/1001@agents/n")
            assert (moved.membername, moved.paused, moved.reason_paused) == ("1001", True, "meal")
        assert sim.member("hotline-general", "Local/1001@agents/n").penalty == 0
        await floor.seats.refresh_seat_index()
        assert floor.seats.watcher.seat_of["Local/1001@agents/n"] == "1001"
        seat = await floor.seats.repo.seat("1001")
        assert seat is not None and seat.interface == "Local/1001@agents/n"
        assert seat.pause_reason == "meal" and seat.logged_in

        # Asterisk refuses half-way (a queue missing on the PBX): undone, row unchanged
        await wait_until(
            lambda: (
                "Local/1001@agents/n" in floor.live.nodes["pbx1"].queues["hotline-health"].members
            )
        )
        sim.system.queues.queues.pop("hotline-urban")
        r = await patch("1001", {"interface": "PJSIP/1001", "skills": {"general": 5, "urban": 3}})
        assert r.status_code == 502 and "QueueAdd" in r.text, r.text
        assert "PJSIP/1001" not in sim.members("hotline-general")
        assert "Local/1001@agents/n" in sim.members("hotline-general")
        assert "Local/1001@agents/n" in sim.members("hotline-health")
        seat = await floor.seats.repo.seat("1001")
        assert seat is not None and seat.interface == "Local/1001@agents/n"
        assert seat.skills == {"general": 5, "health": 2}

        # the PBX link is down: refused before anything, the row unchanged
        await floor.node.stop()
        r = await patch("1001", {"skills": {"general": 1}})
        assert r.status_code == 503 and "pbx1 is not connected" in r.text
        seat = await floor.seats.repo.seat("1001")
        assert seat is not None and seat.skills == {"general": 5, "health": 2}
    finally:
        await client.aclose()
        await floor.close()
