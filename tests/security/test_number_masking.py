"""Issue 15, items 2 and 7: full numbers of every caller reached any agent through the
queue views, the callback worklist and the WebSocket stream, and the stream gave an
agent every seat's rows where REST gives it its own. Here an agent, a supervisor and
admin watch the stream over a real server while callers ring a two-seat floor: the
agent gets no full number but its own callers', and only what REST gives it; the
supervisor gets none; admin gets them all (so the test would see one that leaked).
The REST views are checked at the same time."""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from websockets.asyncio.client import connect

from api.app import create_app
from api.live_sight import ADMIN, EVERYONE, CallSeats, Sight, delta_frames
from api.live_table import RowDelta
from api.services import ApiServices
from callcenter.clock import SHANGHAI
from callcenter.db import session_factory
from callcenter.legacy.queues import QueueCatalog
from callcenter.live.changes import CallAnswered, CallEnded, CallerJoined, CallStarted
from callcenter.live.live_state import LiveState
from callcenter.live.node_state import Call
from callcenter.privacy import Viewer
from callcenter.records.kpi import Tally
from callcenter.tokens import Role, TokenStore
from pbxsim.telephony.softphone import fixed_policy
from queues.catalog import QueueSpec
from queues.queue_views import HeldCallback, queue_live
from tests.api.server import serving
from tests.queues.sim import open_floor, wait_until

CALLERS = [f"139000001{n:02d}" for n in range(1, 7)]
NUMBER = re.compile(r"1\d{10}")


def skills(_i: int) -> dict[str, int]:
    return {"general": 3, "housing": 4}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_agent_sees_its_own_callers_number_and_nobody_elses(database_url: str) -> None:
    floor = await open_floor(database_url, 2, skills, policy=lambda _e: fixed_policy(1.0, 8.0))
    tokens = TokenStore(session_factory(floor.engine), lambda: datetime.now(UTC))
    services = ApiServices.from_systems(
        tokens=tokens, live=floor.live, seats=floor.seats, records=floor.records
    )
    app = create_app(services, CollectorRegistry(), "t")
    issued = {
        "agent": (await tokens.create("agent 1001", Role.AGENT, "1001"))[1],
        "supervisor": (await tokens.create("floor", Role.SUPERVISOR))[1],
        "admin": (await tokens.create("ops", Role.ADMIN))[1],
    }
    auth = {who: {"Authorization": f"Bearer {token}"} for who, token in issued.items()}
    frames: dict[str, list[dict[str, Any]]] = {who: [] for who in issued}
    texts: dict[str, list[str]] = {who: [] for who in issued}
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    try:
        assert await floor.seats.service.login_many(["1001", "1002"]) == {}
        floor.sim.route("12319", "hotline-housing")
        async with serving(app) as host:

            async def watch(who: str) -> None:
                url = f"ws://{host}/api/v1/live"
                async with connect(url, additional_headers=auth[who]) as ws:
                    while True:
                        text = str(await ws.recv())
                        texts[who].append(text)
                        frames[who].append(json.loads(text))

            watchers = [asyncio.create_task(watch(who)) for who in issued]
            await wait_until(lambda: all(frames.values()), 10)
            for number in CALLERS:
                floor.sim.call(number, "12319")
            calls = floor.live.nodes["pbx1"].calls

            # while 1001 talks and others wait: the REST views
            def busy() -> bool:
                housing = floor.live.nodes["pbx1"].queues["hotline-housing"]
                return any(c.seat == "1001" for c in calls.values()) and bool(housing.entries)

            await wait_until(busy, 10)
            agent_rest = await _rest_numbers(client, auth["agent"], ("/api/v1/queues",))
            assert agent_rest and not NUMBER.findall(agent_rest[0])  # callers waiting: masked
            active = (await client.get("/api/v1/calls/active", headers=auth["agent"])).json()
            own_now = {c["linkedid"]: c["caller"] for c in active}
            assert own_now and all(
                calls[i].seat == "1001" and n == calls[i].caller_id_num for i, n in own_now.items()
            )  # its own calls only, their numbers whole
            for who in ("supervisor",):
                for body in await _rest_numbers(
                    client, auth[who], ("/api/v1/queues", "/api/v1/queues/housing")
                ):
                    assert not NUMBER.findall(body), body
                active = (await client.get("/api/v1/calls/active", headers=auth[who])).json()
                assert active and all("****" in c["caller"] for c in active), active
            admin_queue = (await client.get("/api/v1/queues", headers=auth["admin"])).text
            assert NUMBER.findall(admin_queue)  # admin: whole

            await wait_until(lambda: not calls and _ended(frames["admin"]) >= len(CALLERS), 30)
            await asyncio.sleep(0.3)  # the last deltas reach every screen
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)

        seen = _changes(frames["admin"])
        answered = [c for c in seen if c["action"] == "answered"]
        answered_by_1001 = {c["key"] for c in answered if c["data"]["member_name"] == "1001"}
        number_of = {c["key"]: c["data"]["caller"] for c in seen if c["action"] == "started"}
        own_numbers = {number_of[k] for k in answered_by_1001}
        assert answered_by_1001 and own_numbers < set(CALLERS)

        # admin: every number whole (what a leak would look like)
        assert set(NUMBER.findall("".join(texts["admin"]))) == set(CALLERS)
        # a supervisor: none
        assert NUMBER.findall("".join(texts["supervisor"])) == []
        # the agent: its own callers' numbers only, and those it does get
        agent_numbers = set(NUMBER.findall("".join(texts["agent"])))
        assert agent_numbers == own_numbers

        # item 7: the agent gets only what REST gives it
        rest_seats = (await client.get("/api/v1/seats", headers=auth["agent"])).json()["items"]
        assert [s["id"] for s in rest_seats] == ["1001"]
        agent_frames = frames["agent"]
        assert agent_frames[0]["type"] == "snapshot"
        rows = [s for f in agent_frames for s in f.get("seats", [])]
        assert rows and {s["id"] for s in rows} == {"1001"}
        removed = [k for f in agent_frames for k in f.get("removed", {}).get("seats", [])]
        assert all(k.endswith("/1001") for k in removed)
        changes = _changes(agent_frames)
        seat_changes = [c for c in changes if c["kind"] == "seat"]
        assert seat_changes and {c["data"]["member_name"] for c in seat_changes} == {"1001"}
        assert {c["key"] for c in changes if c["kind"] == "call"} == answered_by_1001
        assert any(c["kind"] == "queue_caller" for c in changes)  # as /queues shows them
        # while the supervisor's screen had every seat and every call
        sup_rows = {s["id"] for f in frames["supervisor"] for s in f.get("seats", [])}
        assert sup_rows == {"1001", "1002"}
        assert {c["key"] for c in _changes(frames["supervisor"]) if c["kind"] == "call"} == set(
            number_of
        )
    finally:
        await client.aclose()
        await floor.close()


async def _rest_numbers(
    client: httpx.AsyncClient, headers: dict[str, str], paths: tuple[str, ...]
) -> list[str]:
    bodies = []
    for path in paths:
        r = await client.get(path, headers=headers)
        assert r.status_code == 200, (path, r.text)
        bodies.append(r.text)
    return bodies


def _changes(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for f in frames if f["type"] == "delta" for c in f["changes"]]


def _ended(frames: list[dict[str, Any]]) -> int:
    return sum(c["kind"] == "call" and c["action"] == "ended" for c in _changes(frames))


def test_an_agents_own_confidential_caller_stays_masked_on_the_stream() -> None:
    """privacy.py: the agent on the call sees its number unless the call is
    confidential; the stream reads the mark as it is when the call ends."""
    live = LiveState(lambda: 0.0)
    calls = live.node_state("pbx1").calls
    calls["secret"] = Call("secret", 0.0, "13912341111", seat="1001", confidential=True)
    calls["plain"] = Call("plain", 0.0, "13800002222", seat="1001")
    seats = CallSeats(live)

    def answered(seq: int, linkedid: str) -> CallAnswered:
        queue, member = "hotline-housing", "PJSIP/1001"
        return CallAnswered(seq, "pbx1", 1.0, linkedid, queue, member, "1001", 3, 2)

    def ended(seq: int, linkedid: str, caller: str) -> CallEnded:
        return CallEnded(seq, "pbx1", 9.0, linkedid, caller, "12345", 9.0, 16, "Normal Clearing")

    empty = RowDelta([], [], [], [])
    delta_frames(1, [answered(1, "secret"), answered(2, "plain")], empty, SHANGHAI, seats, {"1001"})
    calls.clear()  # both calls are over by the time the stream hears of it
    waiting = CallerJoined(5, "pbx1", 9.0, "w.1", "hotline-housing", 1, 0, "w.1", "13700003333")
    started = CallStarted(6, "pbx1", 9.0, "w.1", "13700003333", "12345")
    changes = [
        ended(3, "secret", "13912341111"),
        ended(4, "plain", "13800002222"),
        waiting,
        started,
    ]
    frames = delta_frames(2, changes, empty, SHANGHAI, seats, {"1001", "1002"})
    mine = json.loads(frames.for_sight(Sight(Viewer(seat="1001"), agent=True)))
    assert [(c["key"], c["data"].get("caller")) for c in mine["changes"]] == [
        ("secret", "139****1111"),
        ("plain", "13800002222"),  # its own caller, not confidential
        ("w.1", "137****3333"),  # a caller waiting: nobody's yet
    ]
    other = json.loads(frames.for_sight(Sight(Viewer(seat="1002"), agent=True)))
    assert [c["key"] for c in other["changes"]] == ["w.1"]  # no other seat's calls
    assert not NUMBER.findall(frames.for_sight(EVERYONE))
    assert set(NUMBER.findall(frames.for_sight(ADMIN))) == {
        "13912341111",
        "13800002222",
        "13700003333",
    }
    assert len(seats) == 0  # ended calls are forgotten


def test_callers_held_for_a_callback_are_masked_in_the_queue_view() -> None:
    spec = QueueSpec(name="housing", asterisk="hotline-housing")
    held = [HeldCallback(318, "13958001234", 95.0, 0)]
    for viewer, shown in (
        (Viewer(), "139****1234"),
        (Viewer(seat="1001"), "139****1234"),  # nobody's call yet, not even an agent's
        (Viewer(admin=True), "13958001234"),
    ):
        view = queue_live(
            spec, [], Tally().figures(), held, time.time(), viewer, catalog=QueueCatalog.default()
        )
        assert [h.caller for h in view.held_callbacks] == [shown]
