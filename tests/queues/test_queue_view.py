"""The live queue view, today's counters, pauses per seat session and the callback
worklist API, over pbxsim."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.services import ApiServices
from callcenter.db import session_factory
from callcenter.records.kpi import Tally
from callcenter.tokens import Role, TokenStore
from pbxsim.telephony.softphone import fixed_policy
from queues.callbacks import CallbackPolicy
from queues.catalog import catalog
from queues.queue_views import queue_live
from tests.queues.sim import open_floor, wait_until


def skills(_i: int) -> dict[str, int]:
    return {"general": 3, "housing": 4}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_queue_view_today_sessions_and_worklist_api(database_url: str) -> None:
    policy = CallbackPolicy(min_wait_s=5.0, dial_template="PJSIP/{number}")
    floor = await open_floor(
        database_url, 2, skills, policy, policy=lambda _e: fixed_policy(1.0, 30.0)
    )
    tokens = TokenStore(session_factory(floor.engine), lambda: datetime.now(UTC))
    app = create_app(
        ApiServices.from_systems(
            tokens=tokens, live=floor.live, seats=floor.seats, records=floor.records
        ),
        CollectorRegistry(),
        "t",
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")

    async def bearer(role: Role, seat: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {(await tokens.create(role.value, role, seat))[1]}"}

    sup, integ, agent = (
        await bearer(Role.SUPERVISOR),
        await bearer(Role.INTEGRATION),
        await bearer(Role.AGENT, "1001"),
    )
    try:
        assert await floor.seats.service.login_many(["1001", "1002"]) == {}
        await floor.seats.service.pause("1002", "break")
        floor.sim.route("12319", "hotline-housing")
        floor.sim.call("13900000001", "12319")  # answered by 1001 (1002 is on a break)
        await wait_until(
            lambda: (
                floor.live.nodes["pbx1"].calls
                and any(
                    m.in_call
                    for m in floor.live.nodes["pbx1"].queues["hotline-housing"].members.values()
                )
            )
        )
        floor.sim.call("13900000002", "12319")
        gone = floor.sim.call("13900000003", "12319")
        await floor.sim.scheduler.sleep(7.0)
        floor.sim.hang_up(gone)  # waited 7 s: abandoned, onto the worklist
        await wait_until(
            lambda: len(floor.live.nodes["pbx1"].queues["hotline-housing"].entries) == 1
        )

        assert (await client.get("/api/v1/queues/housing")).status_code == 401
        assert (await client.get("/api/v1/queues/housing", headers=integ)).status_code == 403
        assert (await client.get("/api/v1/queues/housing", headers=agent)).status_code == 200
        view = (await client.get("/api/v1/queues/housing", headers=sup)).json()
        assert view["asterisk"] == "hotline-housing" and view["strategy"] == "leastrecent"
        assert view["name"] == "housing"
        assert view["display"] == {"zh": "住房", "en": "Housing"}
        assert view["wrapup_s"] == 10 and view["ring_timeout_s"] == 10
        live = view["live"]
        assert (live["name"], live["asterisk"]) == ("housing", "hotline-housing")
        assert live["waiting"] == 1 and live["callers"][0]["caller"] == "139****0002"
        assert live["callers"][0]["position"] == 1 and live["callers"][0]["waited_s"] >= 7
        assert (live["on_call"], live["paused"], live["available"]) == (1, 1, 0)
        assert view["seats"] == {
            "available": 0,
            "ringing": 0,
            "on_call": 1,
            "wrap_up": 0,
            "paused": 1,
            "unavailable": 0,
        }
        # the day so far: the abandoned call's record, and the two calls in progress
        today = view["today"]
        assert (today["offered"], today["answered"], today["abandoned"]) == (3, 1, 1)
        # fractions over offered (DOMAIN.md): the waiting caller counts against too
        assert today["answer_rate"] == round(1 / 3, 4) and today["sl15"] == round(1 / 3, 4)
        assert today["sl15_of_answered"] == 1.0
        # the Asterisk name is accepted too, and names the same queue
        by_asterisk = await client.get("/api/v1/queues/hotline-housing", headers=sup)
        assert by_asterisk.status_code == 200 and by_asterisk.json()["name"] == "housing"
        assert (await client.get("/api/v1/queues/nope")).status_code == 401  # token first
        unknown = await client.get("/api/v1/queues/nope", headers=sup)
        assert unknown.status_code == 422
        assert "path parameter 'name'" in unknown.json()["detail"]
        assert "general, enterprise, social-security, housing" in unknown.json()["detail"]

        # the worklist: readable by integration, changed by supervisors only
        assert (await client.get("/api/v1/callbacks", headers=agent)).status_code == 403
        page = (await client.get("/api/v1/callbacks?status=open", headers=integ)).json()
        rows = page["items"]
        assert page["next_cursor"] is None
        assert [(r["caller"], r["source"]) for r in rows] == [("139****0003", "abandoned")]
        assert rows[0]["queue"] == "housing"
        task = rows[0]["id"]
        url = f"/api/v1/callbacks/{task}/assign"
        assert (await client.post(url, headers=integ, json={"seat": "1002"})).status_code == 403
        assert (await client.post(url, headers=sup, json={"seat": "9"})).status_code == 404
        r = await client.post(url, headers=sup, json={"seat": "1002"})
        assert r.status_code == 200 and r.json()["assigned_seat"] == "1002"
        # only 1002 may make the call, and 1002 is on a break: nothing starts
        assert await floor.seats.callbacks.dispatch_once() == 0
        r = await client.post(
            f"/api/v1/callbacks/{task}/cancel", headers=sup, json={"reason": "dup"}
        )
        assert r.status_code == 200
        again = await client.post(
            f"/api/v1/callbacks/{task}/cancel", headers=sup, json={"reason": "x"}
        )
        assert again.status_code == 409

        # the seat that took the call is in wrap-up when it ends
        await wait_until(
            lambda: (
                "wrap_up"
                in {
                    floor.seats.tracker.current(
                        floor.live.nodes["pbx1"], "PJSIP/1001", floor.live.clock()
                    ).state
                }
            ),
            10,
        )

        # the queue's own wrap-up (queues.conf, not a member override) shows in the view
        queues = floor.seats.catalog.current
        housing = catalog(queues)["housing"]
        now_view = queue_live(
            housing,
            [floor.live.nodes["pbx1"]],
            Tally().figures(),
            [],
            floor.live.clock(),
            catalog=queues,
        )
        assert now_view.seats["wrap_up"] == 1
        # and the list of every queue counts it alike
        listed = (await client.get("/api/v1/queues", headers=sup)).json()
        assert next(q for q in listed if q["name"] == "housing")["wrap_up"] == 1

        # the pause lands on the seat's sessions (its calls are its call records':
        # tests/queues/test_callback_records_pbx.py)
        now = datetime.now(UTC)
        stats = await floor.seats.repo.stats(now - timedelta(hours=1), now + timedelta(hours=1))
        assert "break" in stats["1002"].pause_s
    finally:
        await client.aclose()
        await floor.close()
