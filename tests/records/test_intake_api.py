"""A call's intake over the API: the agent writes it during the call and its wrap-up,
later writes are corrections (that agent, a supervisor); another seat's call is a 404;
an integration token links the ticket only; every write is a version; a report makes
the call confidential and its summary readable only by admin and the agent who took
it; bad fields are 422s naming them; the record, the export, the KPIs by kind and by
unit and the caller history show the intake. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.services import ApiServices
from callcenter import migrate
from callcenter.db import create_engine, session_factory
from callcenter.legacy.directory import Directory
from callcenter.legacy.records import NumberRecord
from callcenter.legacy.repository import LegacyRepository
from callcenter.live.live_state import LiveState
from callcenter.live.node_state import Call
from callcenter.records.wiring import RecordsSystem, build_records, directory_units
from callcenter.tokens import Role, TokenStore
from tests.records.factory import DAY0, call

pytestmark = pytest.mark.db

NOW = DAY0 + 10 * 3600  # the PBX clock at the start of each test
WRAPUP_GRACE_S = 60.0
ISO_DAY = datetime.fromtimestamp(DAY0, UTC).isoformat()
ISO_NEXT = datetime.fromtimestamp(DAY0 + 86400, UTC).isoformat()


@dataclass
class Desk:
    client: httpx.AsyncClient
    live: LiveState
    records: RecordsSystem
    clock: list[float]
    admin: dict[str, str]
    sup: dict[str, str]
    agent: dict[str, str]  # seat s1001
    other: dict[str, str]  # seat s1002
    script: dict[str, str]  # integration

    def ring(self, linkedid: str, seat: str, caller: str = "13900001111") -> Call:
        """A call in progress, answered at `seat`."""
        state = self.live.node_state("pbx1")
        state.stale = False
        state.calls[linkedid] = found = Call(
            linkedid, self.clock[0] - 60, caller, seat=seat, answered_at=self.clock[0] - 50
        )
        return found

    def hang_up(self, linkedid: str, seat: str, caller: str = "13900001111") -> None:
        """The call ends now: out of the live model, its record into the spool (not yet
        in the database), wrap-up 10 s."""
        del self.live.node_state("pbx1").calls[linkedid]
        now = self.clock[0]
        self.records.writer.add(
            call(
                linkedid,
                started_at=now - 120,
                ended_at=now,
                seat=seat,
                caller=caller,
                wrapup_s=10.0,
            )
        )


@pytest.fixture
async def desk(database_url: str, tmp_path: Path) -> AsyncIterator[Desk]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    clock = [NOW]
    live = LiveState(lambda: clock[0])
    records = build_records(sessions, live, tmp_path / "spool", intake_wrapup_s=WRAPUP_GRACE_S)
    wall = lambda: datetime.fromtimestamp(clock[0], UTC)  # noqa: E731
    repository = LegacyRepository(sessions, wall)
    for number, code, name in (
        ("057187001234", "HOUSING", "市住房保障和房产管理局"),
        ("057187005678", "TRAFFIC", "市交通运输局"),
    ):
        record = NumberRecord(number, code, name, "市本级", "merge", "general", None, "")
        await repository.put(record, actor="test")
    directory = Directory(repository, wall)
    await directory.reload()
    records.intake.units = directory_units(directory)
    tokens = TokenStore(sessions, lambda: datetime.now(UTC))
    app = create_app(
        ApiServices.from_systems(tokens=tokens, live=live, records=records, legacy=directory),
        CollectorRegistry(),
        "t",
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")

    async def bearer(name: str, role: Role, seat: str | None = None) -> dict[str, str]:
        _, token = await tokens.create(name, role, seat)
        return {"Authorization": f"Bearer {token}"}

    try:
        yield Desk(
            client,
            live,
            records,
            clock,
            await bearer("ops", Role.ADMIN),
            await bearer("floor", Role.SUPERVISOR),
            await bearer("agent-1001", Role.AGENT, "s1001"),
            await bearer("agent-1002", Role.AGENT, "s1002"),
            await bearer("province", Role.INTEGRATION),
        )
    finally:
        await client.aclose()
        await engine.dispose()


COMPLAINT: dict[str, object] = {
    "kind": "complaint",
    "unit": "HOUSING",
    "summary": "电梯停运三天。\n物业未处理。",
    "ticket": "ZJ12345-000187",
    "resolved_on_call": False,
}


async def test_agent_writes_during_call_and_wrapup_then_corrections(desk: Desk) -> None:
    c = desk.client
    url = "/api/v1/calls/pbx1:c.1/intake"
    desk.ring("c.1", "s1001")
    # during the call: the call's agent
    first = await c.post(url, json=COMPLAINT, headers=desk.agent)
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["call"], body["version"], body["kind"], body["unit"]) == (
        "pbx1:c.1",
        1,
        "complaint",
        "HOUSING",
    )
    assert body["unit_name"] == "市住房保障和房产管理局"
    assert (body["author"], body["role"], body["seat"], body["correction"]) == (
        "agent-1001",
        "agent",
        "s1001",
        False,
    )
    assert body["summary"] == COMPLAINT["summary"] and body["ticket"] == "ZJ12345-000187"
    assert body["written_at"].endswith("+08:00")
    # another seat's agent: the 404 of a call that does not exist
    theirs = await c.post(url, json=COMPLAINT, headers=desk.other)
    nothing = await c.post("/api/v1/calls/pbx1:none/intake", json=COMPLAINT, headers=desk.other)
    assert theirs.status_code == nothing.status_code == 404
    assert theirs.json()["detail"].replace("c.1", "none") == nothing.json()["detail"]
    assert (await c.get(url, headers=desk.other)).status_code == 404
    # an integration token writes no intake, it links a ticket
    assert (await c.post(url, json=COMPLAINT, headers=desk.script)).status_code == 403

    # wrap-up: the call ended, its record still in the spool, the seat's wrap-up (10 s)
    # is shorter than the configured window (60 s): still the agent's own
    desk.hang_up("c.1", "s1001")
    desk.clock[0] += 45
    second = await c.post(url, json=COMPLAINT | {"resolved_on_call": True}, headers=desk.agent)
    assert second.status_code == 201, second.text
    assert (second.json()["version"], second.json()["correction"]) == (2, False)

    # after the wrap-up: the agent's change is a correction, a supervisor's too
    desk.clock[0] += 30
    third = await c.patch(url, json={"summary": "已转办。"}, headers=desk.agent)
    assert third.status_code == 200, third.text
    assert (third.json()["version"], third.json()["correction"]) == (3, True)
    assert third.json()["ticket"] == "ZJ12345-000187"  # what was not given stays
    assert third.json()["resolved_on_call"] is True
    fourth = await c.patch(url, json={"unit": "TRAFFIC"}, headers=desk.sup)
    assert fourth.status_code == 200, fourth.text
    assert (fourth.json()["role"], fourth.json()["seat"], fourth.json()["correction"]) == (
        "supervisor",
        None,
        True,
    )
    assert fourth.json()["unit_name"] == "市交通运输局"
    # the province platform links its ticket, and only that
    linked = await c.patch(url, json={"ticket": "ZJ12345-000999"}, headers=desk.script)
    assert linked.status_code == 200, linked.text
    assert (linked.json()["version"], linked.json()["author"]) == (5, "province")
    refused = await c.patch(url, json={"kind": "help"}, headers=desk.script)
    assert refused.status_code == 403 and "ticket only" in refused.json()["detail"]
    assert (await c.patch(url, json={"ticket": "x"}, headers=desk.other)).status_code == 404

    history = (await c.get(url, headers=desk.sup)).json()
    assert [v["version"] for v in history["versions"]] == [1, 2, 3, 4, 5]
    assert [v["correction"] for v in history["versions"]] == [False, False, True, True, True]
    assert history["current"] == history["versions"][-1]
    assert history["current"]["unit"] == "TRAFFIC"
    assert history["current"]["ticket"] == "ZJ12345-000999"
    assert history["versions"][0]["unit"] == "HOUSING"  # versions are kept as written

    # the record shows the current version
    detail = (await c.get("/api/v1/calls/pbx1:c.1", headers=desk.sup)).json()
    assert detail["kind"] == "call"  # the record's own kind
    assert detail["intake"]["version"] == 5 and detail["intake"]["kind"] == "complaint"


async def test_bad_fields_are_422s_naming_them(desk: Desk) -> None:
    c = desk.client
    url = "/api/v1/calls/pbx1:c.2/intake"
    desk.ring("c.2", "s1001")
    cases: list[tuple[dict[str, object], str]] = [
        ({"kind": "praise"}, "kind"),
        ({"unit": "NOPE"}, "unit"),
        ({"unit": ""}, "unit"),
        ({"summary": "x" * 2001}, "summary"),
        ({"summary": "bell\x07"}, "summary"),
        ({"summary": "line\r\nbreak"}, "summary"),
        ({"ticket": "T" * 65}, "ticket"),
        ({"ticket": " T-1"}, "ticket"),
        ({"ticket": ""}, "ticket"),
        ({"resolved_on_call": "yes"}, "resolved_on_call"),
        ({"priority": 1}, "priority"),
    ]
    for change, field in cases:
        response = await c.post(url, json=COMPLAINT | change, headers=desk.agent)
        assert response.status_code == 422, (change, response.text)
        assert field in response.json()["detail"], (change, response.text)
    # half a surrogate pair, as JSON may escape it: no text, no database stores it
    escaped = json.dumps(COMPLAINT | {"summary": "\ud83d"}).encode()
    json_body = desk.agent | {"Content-Type": "application/json"}
    response = await c.post(url, content=escaped, headers=json_body)
    assert response.status_code == 422 and "summary" in response.json()["detail"], response.text
    ok = await c.post(url, json=COMPLAINT | {"summary": "x" * 2000}, headers=desk.agent)
    assert ok.status_code == 201, ok.text
    # nothing of the rejected writes was kept
    versions = (await c.get(url, headers=desk.agent)).json()["versions"]
    assert [v["version"] for v in versions] == [1]
    patches: list[tuple[dict[str, object], str]] = [
        ({"kind": None}, "kind"),
        ({}, "no field"),
        ({"kind": "x"}, "kind"),
    ]
    for change, field in patches:
        response = await c.patch(url, json=change, headers=desk.agent)
        assert response.status_code == 422 and field in response.json()["detail"], response.text
    # a change needs an intake to change
    desk.ring("c.3", "s1001")
    none_yet = await c.patch(
        "/api/v1/calls/pbx1:c.3/intake", json={"ticket": "T-1"}, headers=desk.script
    )
    assert none_yet.status_code == 409
    empty = (await c.get("/api/v1/calls/pbx1:c.3/intake", headers=desk.sup)).json()
    assert empty == {"current": None, "versions": []}
    assert (await c.get("/api/v1/calls/nocolon/intake", headers=desk.sup)).status_code == 422


async def test_a_report_makes_the_call_confidential(desk: Desk) -> None:
    c = desk.client
    url = "/api/v1/calls/pbx1:r.1/intake"
    live_call = desk.ring("r.1", "s1002", caller="13912345678")
    report = {"kind": "report", "unit": "HOUSING", "summary": "某工地夜间偷排污水，我是门卫。"}
    written = await c.post(url, json=report, headers=desk.other)
    assert written.status_code == 201, written.text
    assert written.json()["summary"] == report["summary"]  # the agent who took it reads it
    assert live_call.confidential  # masked at once in the live views
    active = (await c.get("/api/v1/calls/active", headers=desk.other)).json()
    assert [a["caller"] for a in active] == ["139****5678"]
    desk.hang_up("r.1", "s1002", caller="13912345678")
    desk.clock[0] += 3600
    # a later correction to another kind does not lift the mark
    corrected = await c.patch(url, json={"kind": "complaint"}, headers=desk.sup)
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["summary"] == "" and corrected.json()["summary_hidden"] is True

    for who, sees in ((desk.sup, False), (desk.script, False), (desk.admin, True)):
        detail = (await c.get("/api/v1/calls/pbx1:r.1", headers=who)).json()
        assert detail["confidential"] is True
        assert (detail["intake"]["summary"] == report["summary"]) is sees
        assert detail["intake"]["summary_hidden"] is not sees
        versions = (await c.get(url, headers=who)).json()["versions"]
        assert [v["summary"] == report["summary"] for v in versions] == [sees, sees]
    mine = (await c.get("/api/v1/calls/pbx1:r.1", headers=desk.other)).json()
    assert mine["caller"] == "139****5678"  # a record masks the number for agents too
    assert mine["intake"]["summary"] == report["summary"]
    assert (await c.get("/api/v1/calls/pbx1:r.1", headers=desk.agent)).status_code == 404
    # the caller history does not list it beside the number, but for admin
    history = desk.records.history
    since = datetime.fromtimestamp(DAY0, UTC)
    assert await history.history_of("13912345678", since, 10) == []
    (past,) = await history.history_of("13912345678", since, 10, reaches_confidential=True)
    assert (past.call, past.kind, past.unit) == ("pbx1:r.1", "complaint", "HOUSING")


async def test_export_kpis_and_caller_history_show_the_intake(desk: Desk) -> None:
    c = desk.client
    desk.ring("k.1", "s1001")
    response = await c.post("/api/v1/calls/pbx1:k.1/intake", json=COMPLAINT, headers=desk.agent)
    assert response.status_code == 201
    desk.hang_up("k.1", "s1001")
    desk.clock[0] += 5
    desk.ring("k.2", "s1002")
    desk.hang_up("k.2", "s1002")  # never classified
    desk.records.writer.add(call("k.3", seat="s1001", started_at=NOW - 7200))
    await desk.records.writer.flush()

    export = await c.get("/api/v1/calls/export.csv", headers=desk.sup)
    rows = {r["linkedid"]: r for r in csv.DictReader(io.StringIO(export.text.lstrip("\ufeff")))}
    assert (rows["k.1"]["intake_kind"], rows["k.1"]["intake_unit"]) == ("complaint", "HOUSING")
    assert rows["k.1"]["ticket"] == "ZJ12345-000187"
    assert rows["k.1"]["resolved_on_call"] == "FALSE"
    assert rows["k.1"]["kind"] == "call"
    assert (rows["k.2"]["intake_kind"], rows["k.2"]["ticket"]) == ("", "")

    async def kpis(group: str) -> dict[str, dict[str, object]]:
        params = {"start": ISO_DAY, "end": ISO_NEXT, "group": group}
        got = await c.get("/api/v1/stats/kpis", params=params, headers=desk.sup)
        assert got.status_code == 200, got.text
        return {str(r["group"]): r for r in got.json()}

    by_kind = await kpis("kind")
    assert set(by_kind) == {"complaint", "unclassified"}
    assert (by_kind["complaint"]["calls"], by_kind["complaint"]["answered"]) == (1, 1)
    assert by_kind["unclassified"]["calls"] == 2
    by_unit = await kpis("unit")
    assert set(by_unit) == {"HOUSING", "unclassified"}
    assert by_unit["HOUSING"]["calls"] == 1
    assert set(await kpis("dialed_unit")) == {""}  # the dialed number, 12345: no unit

    since = datetime.fromtimestamp(DAY0, UTC)
    past = await desk.records.history.history_of("13900001111", since, 10)
    assert [(p.call, p.kind, p.unit, p.ticket, p.disposition) for p in past] == [
        ("pbx1:k.2", None, None, None, "answered"),
        ("pbx1:k.1", "complaint", "HOUSING", "ZJ12345-000187", "answered"),
        ("pbx1:k.3", None, None, None, "answered"),
    ]
    assert len(await desk.records.history.history_of("13900001111", since, 1)) == 1

    kinds = (await c.get("/api/v1/intake-kinds", headers=desk.agent)).json()
    assert [(k["kind"], k["zh"]) for k in kinds] == [
        ("consultation", "咨询"),
        ("help", "求助"),
        ("opinion", "意见"),
        ("suggestion", "建议"),
        ("complaint", "投诉"),
        ("report", "举报"),
    ]
    assert [k["kind"] for k in kinds if k["confidential_by_default"]] == ["report"]
