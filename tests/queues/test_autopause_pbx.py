"""A seat that lets a call ring out, over pbxsim with the repo's queues.conf
(`timeout = 10`, `autopause = all`): Asterisk pauses it everywhere with reason
"Auto-Pause", the product shows it so (REST, live stream rows, /metrics), the seat row
follows so a restart repair keeps it paused, and a supervisor unpauses it."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from api.app import create_app
from api.live_rows import seat_rows
from api.services import ApiServices
from callcenter.clock import SHANGHAI as CITY
from callcenter.db import session_factory
from callcenter.live.audit import Auditor
from callcenter.process.metrics import register_node_metrics
from callcenter.tokens import Role, TokenStore
from pbxsim.telephony.softphone import FixedResponse, fixed_policy
from queues.models import Seat
from tests.queues.sim import Floor, open_floor, wait_until

SKILLS = {"general": 3, "housing": 4}


def never_1001(extension: str):  # type: ignore[no-untyped-def]
    """1001 is away from the desk: its phone rings and nobody picks up."""
    if extension == "1001":
        response = FixedResponse(answers=False)
        return lambda: response
    return fixed_policy(0.5)


async def row_of(floor: Floor, seat_id: str, predicate) -> Seat:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 5
    while True:
        seat = await floor.seats.repo.seat(seat_id)
        assert seat is not None
        if predicate(seat):
            return seat
        if time.monotonic() > deadline:
            raise AssertionError(f"seat row never reached the state: {seat.pause_reason!r}")
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_seat_that_does_not_answer_is_auto_paused_and_shown_so(database_url: str) -> None:
    floor = await open_floor(database_url, 2, lambda _i: dict(SKILLS), policy=never_1001)
    tokens = TokenStore(session_factory(floor.engine), lambda: datetime.now(UTC))
    registry = CollectorRegistry()
    register_node_metrics(
        registry, [floor.node], floor.live, Auditor(floor.live, 60.0), floor.seats.wrapups
    )
    app = create_app(
        ApiServices.from_systems(tokens=tokens, live=floor.live, seats=floor.seats),
        CollectorRegistry(),
        "t",
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    _, sup_token = await tokens.create("floor", Role.SUPERVISOR)
    sup = {"Authorization": f"Bearer {sup_token}"}
    try:
        service = floor.seats.service
        await service.login("1001")
        await wait_until(lambda: "PJSIP/1001" in floor.sim.members("hotline-housing"))
        rang_at = floor.sim.scheduler.now()
        floor.sim.call("13800000001")
        # 10 s of ringing (0.5 s at the harness's speed), then paused in both its queues
        await wait_until(
            lambda: all(
                floor.sim.member(q, "PJSIP/1001").paused
                for q in ("hotline-general", "hotline-housing")
            ),
            5,
        )
        member = floor.sim.member("hotline-housing", "PJSIP/1001")
        assert member.reason_paused == "Auto-Pause"
        paused_at = member.lastpause
        assert 10 <= paused_at - rang_at < 12  # rung for the queue's timeout, not 15 s

        seat = await row_of(floor, "1001", lambda s: s.pause_reason == "Auto-Pause")
        assert seat.logged_in
        view = (await client.get("/api/v1/seats/1001", headers=sup)).json()
        assert (view["state"], view["state_reason"]) == ("paused", "Auto-Pause")
        assert view["pause_reason_db"] == "Auto-Pause"
        assert abs(datetime.fromisoformat(view["state_since"]).timestamp() - paused_at) < 2
        db_seats = await floor.seats.repo.seats()
        rows = seat_rows(floor.live, floor.seats, db_seats, floor.live.clock(), CITY)
        [row] = [r for r in rows.values() if r.id == "1001"]
        assert (row.state, row.state_reason) == ("paused", "Auto-Pause")
        metrics = generate_latest(registry).decode()
        assert 'callcenter_seats_paused{reason="Auto-Pause"} 1.0' in metrics
        stats = await floor.seats.repo.stats(
            datetime.fromtimestamp(rang_at - 60, UTC), datetime.now(UTC), ["1001"]
        )
        assert "Auto-Pause" in stats["1001"].pause_s  # in its pause history

        # Asterisk restarts: the repair puts the seat back paused, not taking calls
        resyncs = floor.live.resyncs_done
        await floor.restart_pbx()
        await wait_until(lambda: floor.live.resyncs_done > resyncs, 5)
        await wait_until(lambda: "PJSIP/1001" in floor.sim.members("hotline-general"), 5)
        readded = floor.sim.member("hotline-general", "PJSIP/1001")
        assert readded.paused and readded.reason_paused == "Auto-Pause"

        # the supervisor takes it back (a supervisor may unpause any seat)
        r = await client.post("/api/v1/seats/1001/unpause", headers=sup)
        assert r.status_code == 200, r.text
        assert r.json()["pause_reason_db"] is None
        await wait_until(lambda: not floor.sim.member("hotline-general", "PJSIP/1001").paused)
        seat = await row_of(floor, "1001", lambda s: s.pause_reason is None)
        assert seat.logged_in

        # paused again, and this time the agent comes back from its own phone: the
        # row follows the floor
        floor.sim.system.queues.set_paused("PJSIP/1001", True, reason="Auto-Pause")
        await row_of(floor, "1001", lambda s: s.pause_reason == "Auto-Pause")
        floor.sim.system.queues.set_paused("PJSIP/1001", False)
        await row_of(floor, "1001", lambda s: s.pause_reason is None)
        # a pause this service did not make and that is not app_queue's own is left alone
        floor.sim.system.queues.set_paused("PJSIP/1001", True, reason="phone-dnd")
        await asyncio.sleep(0.3)
        assert (await floor.seats.repo.seat("1001")).pause_reason is None  # type: ignore[union-attr]
    finally:
        await client.aclose()
        await floor.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_agent_unpauses_only_its_own_seat(database_url: str) -> None:
    floor = await open_floor(database_url, 2, lambda _i: dict(SKILLS))
    tokens = TokenStore(session_factory(floor.engine), lambda: datetime.now(UTC))
    app = create_app(
        ApiServices.from_systems(tokens=tokens, live=floor.live, seats=floor.seats),
        CollectorRegistry(),
        "t",
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    _, agent_token = await tokens.create("agent", Role.AGENT, "1001")
    agent = {"Authorization": f"Bearer {agent_token}"}
    try:
        assert await floor.seats.service.login_many(["1001", "1002"]) == {}
        for seat_id in ("1001", "1002"):
            await floor.seats.service.pause(seat_id, "break")
        r = await client.post("/api/v1/seats/1002/unpause", headers=agent)
        assert r.status_code == 403 and "own seat" in r.json()["detail"]
        r = await client.post("/api/v1/seats/1001/unpause", headers=agent)
        assert r.status_code == 200 and r.json()["pause_reason_db"] is None
    finally:
        await client.aclose()
        await floor.close()
