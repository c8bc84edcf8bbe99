"""The agent's desk (`WS /api/v1/desk`, `GET /api/v1/desk/pop`) against pbxsim: a call
that rings one agent's seat pops on that agent's desk within a second, with the dialed
number's unit, and never on another agent's; the pop follows the call (answered, the
number shown whole to the agent who took it, ended) and comes back after a reconnect."""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from api.app import create_app
from api.services import ApiServices
from callcenter.db import session_factory
from callcenter.legacy.directory import Directory
from callcenter.legacy.records import NumberRecord
from callcenter.legacy.repository import LegacyRepository
from callcenter.process.demo import DEMO_AGENT_SEAT, demo_agent_token
from callcenter.tokens import Role, TokenStore
from pbxsim.telephony.softphone import fixed_policy
from tests.api.server import serving, sqlite_tokens
from tests.queues.sim import Floor, open_floor, wait_until
from tests.records.factory import call as call_record

CALLER = "13912341111"
OLD = "043266453987"


async def frames_until(
    ws: ClientConnection, predicate, timeout: float = 10.0
) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"never came; got {[f['type'] for f in seen]}")
        frame = json.loads(await asyncio.wait_for(ws.recv(), left))
        seen.append(frame)
        if predicate(frame):
            return seen


async def drain(ws: ClientConnection, seconds: float) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            seen.append(json.loads(await asyncio.wait_for(ws.recv(), left)))
        except TimeoutError:
            break
    return seen


async def legacy_directory(floor: Floor) -> Directory:
    """The old number OLD belongs to the city's housing bureau (merge mode)."""
    repo = LegacyRepository(session_factory(floor.engine), lambda: datetime.now(UTC))
    record = NumberRecord(
        OLD, "HOUSING", "市住房和城乡建设局", "市本级", "merge", "housing", None, ""
    )
    await repo.put(record, actor="test")
    directory = Directory(repo, lambda: datetime.now(UTC))
    await directory.reload()
    return directory


def answer_slowly(ext: str):  # type: ignore[no-untyped-def]
    """Seats answer after 6 PBX seconds (0.3 s here), before the queue's 10 s ring
    timeout would try another seat, and talk for long."""
    return fixed_policy(6.0, 600.0)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_pop_reaches_the_rung_seat_only_and_survives_a_reconnect(
    database_url: str,
) -> None:
    floor = await open_floor(database_url, 2, lambda i: {"housing": 3}, policy=answer_slowly)
    tokens = TokenStore(session_factory(floor.engine), lambda: datetime.now(UTC))
    _, one = await tokens.create("agent one", Role.AGENT, seat="1001")
    _, two = await tokens.create("agent two", Role.AGENT, seat="1002")
    directory = await legacy_directory(floor)
    # the caller called twice before: the history lists both, newest first
    now = floor.live.clock()
    await floor.records.store.upsert(
        [
            call_record(
                "old-1", caller=CALLER, started_at=now - 86400 * 3, ended_at=now - 86400 * 3 + 60
            ),
            call_record("old-2", caller=CALLER, started_at=now - 3600, ended_at=now - 3500),
            call_record(
                "old-3", caller=CALLER, started_at=now - 86400 * 40, ended_at=now - 86400 * 40 + 60
            ),
        ]
    )
    services = ApiServices.from_systems(
        tokens=tokens, live=floor.live, seats=floor.seats, records=floor.records, legacy=directory
    )
    app = create_app(services, CollectorRegistry(), "t")
    try:
        assert await floor.seats.service.login_many(["1001", "1002"]) == {}
        floor.sim.route(OLD, "hotline-housing")
        async with serving(app) as host:
            url = f"ws://{host}/api/v1/desk"
            async with connect(url) as desk1, connect(url) as desk2:
                await desk1.send(json.dumps({"token": one}))
                await desk2.send(json.dumps({"token": two}))
                first = await frames_until(desk1, lambda f: f["type"] == "seat")
                assert first[0]["type"] == "desk" and first[0]["seat"] == "1001"
                assert {r["code"] for r in first[0]["pause_reasons"]} >= {"meal", "break"}
                await frames_until(desk2, lambda f: f["type"] == "seat")
                await wait_until(
                    lambda: all(
                        m.status == 1
                        for q in floor.live.nodes["pbx1"].queues.values()
                        for m in q.members.values()
                    ),
                    10,
                )

                floor.sim.call(CALLER, OLD)
                rang = None

                def ringing(f: dict[str, Any]) -> bool:
                    nonlocal rang
                    if f["type"] == "seat" and f["state"] == "ringing" and rang is None:
                        rang = time.monotonic()
                    return f["type"] == "pop"

                # whichever seat the queue rings first gets the pop; the other never does
                waits = {
                    asyncio.create_task(frames_until(desk1, ringing)): ("1001", desk1, desk2),
                    asyncio.create_task(frames_until(desk2, ringing)): ("1002", desk2, desk1),
                }
                done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                popped_at = time.monotonic()
                for task in pending:
                    task.cancel()
                finished = done.pop()
                frames = finished.result()
                seat, desk, other = waits[finished]
                pop = frames[-1]["pop"]
                assert rang is not None and popped_at - rang < 1.0
                assert frames[-1]["phase"] == "ringing"
                assert pop["dialed"] == OLD
                assert pop["unit"] == {
                    "code": "HOUSING",
                    "name": "市住房和城乡建设局",
                    "district": "市本级",
                    "mode": "merge",
                }
                assert pop["queue"] == "housing" and pop["queue_display"]["zh"] == "住房"
                # ringing is not having the call: the number is masked until answered
                assert pop["caller"] == "139****1111"
                assert [h["call"] for h in pop["history"]] == ["pbx1:old-2", "pbx1:old-1"]
                assert pop["priority_reasons"] == ["repeat caller"]
                assert pop["card"] is None and pop["wait_s"] is not None

                answered = await frames_until(desk, lambda f: f.get("event") == "answered")
                assert answered[-1]["caller"] == CALLER and answered[-1]["phase"] == "talking"

                # reconnect mid-call: the pop comes again, the number whole now
                token = one if seat == "1001" else two
                await desk.close()
                async with connect(url) as again:
                    await again.send(json.dumps({"token": token}))
                    back = await frames_until(again, lambda f: f["type"] == "pop")
                    assert back[-1]["pop"]["call"] == pop["call"]
                    assert back[-1]["phase"] == "talking"
                    assert back[-1]["pop"]["caller"] == CALLER
                async with httpx.AsyncClient(base_url=f"http://{host}") as http:
                    got = await http.get(
                        "/api/v1/desk/pop", headers={"Authorization": f"Bearer {token}"}
                    )
                    assert got.status_code == 200, got.text
                    assert got.json()["call"] == pop["call"] and got.json()["phase"] == "talking"
                    other_token = two if seat == "1001" else one
                    none = await http.get(
                        "/api/v1/desk/pop", headers={"Authorization": f"Bearer {other_token}"}
                    )
                    assert none.status_code == 404
                    assert (
                        await http.get(
                            "/api/v1/desk/pop",
                            params={"seat": seat},
                            headers={"Authorization": f"Bearer {other_token}"},
                        )
                    ).status_code == 403

                async with httpx.AsyncClient(base_url=f"http://{host}") as http:
                    metrics = (await http.get("/metrics")).text
                assert "callcenter_desk_pops_total 1.0" in metrics, metrics

                # the other agent's desk never heard of the call
                rest = await drain(other, 0.5)
                assert all(f["type"] in ("seat", "heartbeat") for f in rest), rest
                assert pop["call"] not in json.dumps(rest)
    finally:
        await services.desk.stop() if services.desk else None
        await floor.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_desk_refuses_tokens_that_are_not_an_agents(database_url: str) -> None:
    floor = await open_floor(database_url, 1, lambda i: {"general": 3})
    tokens = TokenStore(session_factory(floor.engine), lambda: datetime.now(UTC))
    _, supervisor = await tokens.create("boss", Role.SUPERVISOR)
    services = ApiServices.from_systems(tokens=tokens, live=floor.live, seats=floor.seats)
    app = create_app(services, CollectorRegistry(), "t")
    try:
        async with serving(app) as host:
            for token, code in ((supervisor, 4403), ("cc_" + "x" * 43, 4401)):
                async with connect(f"ws://{host}/api/v1/desk") as ws:
                    await ws.send(json.dumps({"token": token}))
                    with pytest.raises(ConnectionClosed):
                        await asyncio.wait_for(ws.recv(), 5)
                    assert ws.close_code == code
            async with httpx.AsyncClient(base_url=f"http://{host}") as http:
                r = await http.get(
                    "/api/v1/desk/pop", headers={"Authorization": f"Bearer {supervisor}"}
                )
                assert r.status_code == 403
    finally:
        await floor.close()


async def test_the_agent_page_runs_only_its_own_scripts() -> None:
    """`/agent` is served like the wallboard, under the same Content-Security-Policy:
    no inline script or style, every asset from the package."""
    app = create_app(ApiServices(), CollectorRegistry(), "t")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        page = await http.get("/agent")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "script-src 'self';" in page.headers["content-security-policy"]
        html = page.text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), "an inline script"
        assert "<style" not in html and " style=" not in html
        for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
            served = await http.get(asset)
            assert served.status_code == 200, asset
        js = (await http.get("/static/agent.js")).text
        assert '"/api/v1/desk"' in js and "/api/v1/desk/pop" in js


async def test_the_demo_prints_a_desk_for_seat_1001_with_a_fresh_token(tmp_path: Path) -> None:
    tokens, engine = await sqlite_tokens(tmp_path)
    try:
        first = await demo_agent_token(tokens)
        second = await demo_agent_token(tokens)
        assert await tokens.verify(first) is None  # the previous start's token is revoked
        principal = await tokens.verify(second)
        assert principal is not None and principal.role is Role.AGENT
        assert principal.seat == DEMO_AGENT_SEAT == "1001"
    finally:
        await engine.dispose()
