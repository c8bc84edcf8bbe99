"""/api/v1/calls and /api/v1/stats: filters, cursor pagination, masking per role,
agents limited to their seat, the streamed CSV export, KPIs with clear errors."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.services import ApiServices
from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.live.live_state import LiveState
from callcenter.records.wiring import build_records
from callcenter.tokens import Role, TokenStore
from tests.records.factory import DAY0, call

ISO_DAY = datetime.fromtimestamp(DAY0, UTC).isoformat()
ISO_NEXT = datetime.fromtimestamp(DAY0 + 86400, UTC).isoformat()


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_calls_and_stats_api(database_url: str, tmp_path: Path) -> None:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    records = build_records(sessions, LiveState(time.time), tmp_path / "spool")
    calls = [call(f"c.{i}", started_at=DAY0 + 3600 + i, caller=f"1390000{i:04d}") for i in range(7)]
    calls.append(
        call(
            "secret.1",
            started_at=DAY0 + 7200,
            caller="13912341111",
            confidential=True,
            seat="s1002",
            disposition="abandoned",
            queue_exit="abandoned",
            agent="",
            queued_after_s=14.2,
        )
    )
    await records.store.upsert(calls)
    tokens = TokenStore(sessions, lambda: datetime.now(UTC))
    app = create_app(
        ApiServices.from_systems(tokens=tokens, records=records), CollectorRegistry(), "t"
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")

    async def bearer(role: Role, seat: str | None = None) -> dict[str, str]:
        _, token = await tokens.create(role.value, role, seat)
        return {"Authorization": f"Bearer {token}"}

    admin, sup, agent = (
        await bearer(Role.ADMIN),
        await bearer(Role.SUPERVISOR),
        await bearer(Role.AGENT, "s1002"),
    )
    try:
        assert (await client.get("/api/v1/calls")).status_code == 401
        # cursor pagination: 3 + 3 + 2, newest first, no overlap
        seen: list[str] = []
        cursor = None
        for _ in range(3):
            params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/api/v1/calls", params=params, headers=sup)).json()
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
        assert cursor is None
        assert seen == ["pbx1:secret.1"] + [f"pbx1:c.{i}" for i in range(6, -1, -1)]

        # masking: supervisor sees 139****1111, admin sees the number
        masked = (await client.get("/api/v1/calls/pbx1:secret.1", headers=sup)).json()
        assert masked["caller"] == "139****1111" and masked["timeline"]
        # city time with its offset, from SQLite's naive UTC too
        assert masked["started_at"] == "2026-11-20T02:00:00+08:00"
        assert masked["queued_after_s"] == 14.2  # seconds from answer to queue entry
        clear = (await client.get("/api/v1/calls/pbx1:secret.1", headers=admin)).json()
        assert clear["caller"] == "13912341111"

        # filters and the agent's own seat
        only = (
            await client.get("/api/v1/calls", params={"disposition": "abandoned"}, headers=sup)
        ).json()
        assert [i["id"] for i in only["items"]] == ["pbx1:secret.1"]
        assert only["items"][0]["queued_after_s"] == 14.2
        mine = (await client.get("/api/v1/calls", headers=agent)).json()
        assert [i["id"] for i in mine["items"]] == ["pbx1:secret.1"]
        assert mine["items"][0]["caller"] == "139****1111"
        # another seat's call answers as one that does not exist: ids cannot be probed
        other = await client.get("/api/v1/calls/pbx1:c.1", headers=agent)
        missing = await client.get("/api/v1/calls/pbx1:c.none", headers=agent)
        assert other.status_code == missing.status_code == 404
        assert other.json()["detail"].replace("c.1", "c.none") == missing.json()["detail"]

        bad = await client.get("/api/v1/calls", params={"disposition": "lost"}, headers=sup)
        assert bad.status_code == 422 and "disposition" in bad.json()["detail"]
        bad = await client.get("/api/v1/calls", params={"cursor": "!!"}, headers=sup)
        assert bad.status_code == 422 and "cursor" in bad.json()["detail"]
        assert (await client.get("/api/v1/calls/nocolon", headers=sup)).status_code == 422
        import base64

        huge = base64.urlsafe_b64encode(b"99999999999999999999|pbx1|x").decode()
        for params in ({"cursor": huge}, {"caller": "139\x00"}):
            bad = await client.get("/api/v1/calls", params=params, headers=sup)
            assert bad.status_code == 422, (params, bad.text)
        assert (await client.get("/api/v1/calls/pbx1:none", headers=sup)).status_code == 404

        # export: every row, masked for the supervisor
        export = await client.get("/api/v1/calls/export.csv", headers=sup)
        rows = list(csv.DictReader(io.StringIO(export.text)))
        assert len(rows) == 8
        assert {r["caller"] for r in rows if r["linkedid"] == "secret.1"} == {"139****1111"}

        # KPIs
        stats = await client.get(
            "/api/v1/stats/kpis",
            params={"start": ISO_DAY, "end": ISO_NEXT, "group": "seat"},
            headers=sup,
        )
        by_seat = {r["group"]: r for r in stats.json()}
        assert by_seat["s1001"]["answered"] == 7 and by_seat["s1002"]["offered"] == 1
        bad = await client.get(
            "/api/v1/stats/kpis",
            params={"start": ISO_DAY, "end": ISO_NEXT, "period": "week"},
            headers=sup,
        )
        assert bad.status_code == 422 and "period" in bad.json()["detail"]
        assert (
            await client.get(
                "/api/v1/stats/kpis", params={"start": ISO_DAY, "end": ISO_NEXT}, headers=agent
            )
        ).status_code == 403
        assert (await client.get("/api/v1/calls/active", headers=sup)).json() == []
    finally:
        await client.aclose()
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_call_detail_links_a_callback_and_its_abandoned_call(
    database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    records = build_records(sessions, LiveState(time.time), tmp_path / "spool")
    no_agent = dict(agent="", seat="", talk_s=0.0, wrapup_s=0.0)
    link = dict(direction="outbound", kind="callback", callback_of="ab.1", queues=[])
    await records.store.upsert(
        [
            call("ab.1", disposition="abandoned", queue_exit="abandoned", wait_s=20.0, **no_agent),
            call("cb.1", started_at=DAY0 + 9 * 3600 + 300, disposition="reached", **link),
        ]
    )
    tokens = TokenStore(sessions, lambda: datetime.now(UTC))
    app = create_app(
        ApiServices.from_systems(tokens=tokens, records=records), CollectorRegistry(), "t"
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    _, token = await tokens.create("sup", Role.SUPERVISOR, None)
    sup = {"Authorization": f"Bearer {token}"}
    try:
        original = (await client.get("/api/v1/calls/pbx1:ab.1", headers=sup)).json()
        assert (original["kind"], original["direction"]) == ("call", "inbound")
        assert original["callbacks"] == ["pbx1:cb.1"] and original["original"] is None
        callback = (await client.get("/api/v1/calls/pbx1:cb.1", headers=sup)).json()
        assert (callback["kind"], callback["direction"]) == ("callback", "outbound")
        assert callback["callback_of"] == "ab.1" and callback["original"] == "pbx1:ab.1"
        assert callback["disposition"] == "reached" and callback["queue"] == ""
        export = await client.get("/api/v1/calls/export.csv", headers=sup)
        rows = list(csv.DictReader(io.StringIO(export.text)))
        assert {(r["linkedid"], r["kind"], r["callback_of"]) for r in rows} == {
            ("ab.1", "call", ""),
            ("cb.1", "callback", "ab.1"),
        }
        stats = await client.get(
            "/api/v1/stats/kpis", params={"start": ISO_DAY, "end": ISO_NEXT}, headers=sup
        )
        (row,) = stats.json()
        assert (row["calls"], row["offered"], row["abandoned"]) == (1, 1, 1)
        assert (row["callbacks_reached"], row["callback_completion"]) == (1, 1.0)
    finally:
        await client.aclose()
        await engine.dispose()
